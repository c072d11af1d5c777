"""The plain-HTTP listener's WSGI wrapper: public CA/CRL paths only, the rest to HTTPS."""

import re

from ..webserver_config import PUBLIC_PATHS

PLAIN_HTTP_PATHS = re.compile(rf"/({PUBLIC_PATHS}|healthz|metrics)")


class PlainHttpGate:
    """WSGI wrapper for the plain-HTTP listener: public CA/CRL paths only, the rest to HTTPS."""

    def __init__(self, app, https_port: int):
        self.app = app
        self.https_port = https_port

    def __call__(self, environ, start_response):
        """Serve public paths; redirect everything else to the HTTPS listener."""
        path = environ.get("PATH_INFO", "")
        if PLAIN_HTTP_PATHS.fullmatch(path):
            return self.app(environ, start_response)
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        host = re.sub(r":\d+\Z", "", host) if not host.endswith("]") else host
        if not re.fullmatch(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]", host):
            host = "localhost"
        query = environ.get("QUERY_STRING")
        location = f"https://{host}:{self.https_port}{path}" + (f"?{query}" if query else "")
        start_response("308 Permanent Redirect", [("Location", location),
                                                  ("Content-Length", "0")])
        return [b""]
