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


class RedactingLogger(Logger):
    """gunicorn's logger, with enrollment tokens removed from every access-log field."""

    def atoms(self, resp, req, environ, request_time):
        """The access log's fields, redacted when the request concerns an enrollment link."""
        atoms = super().atoms(resp, req, environ, request_time)
        if MARKER not in environ.get("RAW_URI", "") and \
                MARKER not in environ.get("HTTP_REFERER", ""):
            return atoms
        return {key: redact(value) if isinstance(value, str) else value
                for key, value in atoms.items()}
