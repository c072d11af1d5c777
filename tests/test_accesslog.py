"""The access log: the same lines as gunicorn's own logger, with enrollment tokens redacted."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

from portal.accesslog import RedactingLogger

ENVIRON = {
    "REMOTE_ADDR": "198.51.100.7", "REQUEST_METHOD": "GET", "RAW_URI": "/ping?x=1",
    "PATH_INFO": "/ping", "QUERY_STRING": "x=1", "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_REFERER": "https://pki.example.org/", "HTTP_USER_AGENT": "curl/7.88.1",
    "HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0",  # alice:secret: the log shows "alice"
    "HTTP_HOST": "pki.example.org", "wsgi.url_scheme": "https", "SERVER_NAME": "pki",
}
REQUEST = SimpleNamespace(headers=[("HOST", "pki.example.org"), ("USER-AGENT", "curl/7.88.1"),
                                   ("ACCEPT", "*/*")])
RESPONSE = SimpleNamespace(status="200 OK", sent=4,
                           headers=[("Content-Type", "text/plain"), ("Content-Length", "4")])
ELAPSED = timedelta(microseconds=1234)


def _line(logger_class, access_log_format: str, environ=ENVIRON) -> str:
    cfg = Config()
    cfg.set("access_log_format", access_log_format)
    logger = logger_class(cfg)
    logger.now = lambda: "[01/Dec/2026:22:00:00 +0000]"
    atoms = logger.atoms(RESPONSE, REQUEST, dict(environ), ELAPSED)
    return access_log_format % SafeAtoms(atoms)


@pytest.mark.parametrize("access_log_format", [
    Config().access_log_format,  # gunicorn's default, the one `portal serve` writes
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(m)s %(U)s %(q)s %(H)s '
    '%(B)s %(T)s %(D)s %(M)s %(L)s',
    '%(h)s "%(r)s" %(s)s %({user-agent}i)s %({content-type}o)s %({server_name}e)s',
])
def test_the_lines_are_gunicorns_own(access_log_format):
    """Built from fewer inputs when the format allows, the line is still gunicorn's."""
    assert _line(RedactingLogger, access_log_format) == _line(Logger, access_log_format)
    assert "alice" in _line(RedactingLogger, '%(u)s')


def test_an_enrollment_token_never_reaches_the_log():
    """A link's token, in the request line or the Referer, is written as [token]."""
    environ = {**ENVIRON, "RAW_URI": "/enroll/s3cr3t-t0ken", "PATH_INFO": "/enroll/s3cr3t-t0ken",
               "HTTP_REFERER": "https://pki.example.org/enroll/s3cr3t-t0ken?step=2"}
    line = _line(RedactingLogger, Config().access_log_format, environ)
    assert "s3cr3t" not in line
    assert '"GET /enroll/[token] HTTP/1.1"' in line
    assert '"https://pki.example.org/enroll/[token]?step=2"' in line
