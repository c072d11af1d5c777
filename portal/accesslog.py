"""gunicorn's access log without secrets: enrollment-link tokens are written as [token].

A link's token is its only credential; the request line and the Referer of the page it opens
would otherwise put it in the log, readable by anyone who reads logs, until it is used.
"""

import re

from gunicorn.glogging import Logger

_TOKEN_IN_PATH = re.compile(r"(/enroll/)[^/?#\s\"]+")
MARKER = "/enroll/"


def redact(text: str) -> str:
    """Replace every enrollment token in a URL or log field with [token]."""
    return _TOKEN_IN_PATH.sub(r"\1[token]", text)


# What gunicorn's own atoms (h, u, r, m, U, q, H, f, a...) read from the environ. A format
# without `{...}i`, `{...}o` or `{...}e` atoms, gunicorn's default one included, needs nothing
# else, and gunicorn otherwise builds an atom for every request header and environ key on
# every request. tests/test_accesslog.py checks that the lines stay the same.
BASIC_ENVIRON_KEYS = ("REMOTE_ADDR", "REQUEST_METHOD", "RAW_URI", "SERVER_PROTOCOL",
                      "PATH_INFO", "QUERY_STRING", "HTTP_REFERER", "HTTP_USER_AGENT",
                      "HTTP_AUTHORIZATION")


class RedactingLogger(Logger):
    """gunicorn's logger, with enrollment tokens removed from every access-log field."""

    def atoms(self, resp, req, environ, request_time):
        """The access log's fields, redacted when the request concerns an enrollment link."""
        redacted = MARKER in environ.get("RAW_URI", "") or \
            MARKER in environ.get("HTTP_REFERER", "")
        if "{" not in self.cfg.access_log_format:  # only the basic atoms are asked for
            environ = {key: environ[key] for key in BASIC_ENVIRON_KEYS if key in environ}
            req = ()
        atoms = super().atoms(resp, req, environ, request_time)
        if not redacted:
            return atoms
        return {key: redact(value) if isinstance(value, str) else value
                for key, value in atoms.items()}
