"""Every gunicorn name the portal's worker relies on that is not gunicorn's public API.

gunicorn documents its settings and the worker hooks, not the gthread worker's insides. The
worker in `worker.py` reaches into them, so they are all named here and nowhere else, and
`missing()` says, by name, which of them a gunicorn release no longer has: the test suite
and every worker's start call it, so an upgrade fails loudly instead of serving wrongly.
"""

import inspect

from gunicorn import arbiter
from gunicorn.http import get_parser
from gunicorn.http.body import ChunkedReader, EOFReader, LengthReader
from gunicorn.http.wsgi import Response
from gunicorn.sock import ssl_context
from gunicorn.workers.gthread import TConn, ThreadWorker

__all__ = ["TConn", "ThreadWorker", "check", "client_is_done", "close_if_body_unread",
           "get_parser", "missing", "ssl_context", "take_buffered"]

# Methods of ThreadWorker that the portal's worker overrides or calls. Every path that gives
# a connection to a thread must go through enqueue_req(), which the worker overrides.
WORKER_METHODS = ("accept", "enqueue_req", "init_process", "murder_pending", "handle",
                  "finish_request", "on_client_socket_readable", "run", "notify",
                  "is_parent_alive")
HANDS_OFF_THROUGH_ENQUEUE_REQ = ("on_client_socket_readable", "finish_request")
# Attributes a ThreadWorker has once constructed.
# The worker hands connections to `tpool` (a concurrent.futures executor) and back to the
# poller through `method_queue.defer`, as ThreadWorker.enqueue_req does.
WORKER_ATTRIBUTES = ("poller", "keepalived_conns", "nr_conns", "alive", "cfg", "log", "app",
                     "tpool", "method_queue")
# What a TConn has once constructed (initialized=True means "init() must not wrap again").
CONNECTION_ATTRIBUTES = ("cfg", "sock", "client", "server", "parser", "initialized")
CONNECTION_METHODS = ("init", "close")
# The HTTP/1 parser's read-back buffer: bytes read on the poller are handed back through it;
# `mesg` is the last request it parsed, `buf` what it read ahead of it.
PARSER_ATTRIBUTES = ("unreader", "mesg")
UNREADER_METHODS = ("unread", "take_buffered")
UNREADER_ATTRIBUTES = ("buf",)
# What a parsed request has (gunicorn.http.message.Request).
REQUEST_ATTRIBUTES = ("headers", "version", "body")
# gunicorn's info lines while it stops (arbiter.py), which ServeLogger writes at debug level.
STOP_MESSAGES = frozenset({"Handling signal: %s", "Worker exiting (pid: %s)",
                           "Shutting down: %s", "Worker (pid:%s) was sent %s!",
                           "Quick shutdown requested"})
STOP_SIGNALS = frozenset({("term",), ("int",), ("quit",)})
# Settings read by the worker.
SETTINGS = ("is_ssl", "suppress_ragged_eofs", "keepalive")


# The environ key under which gunicorn passes the client's socket to the app.
SOCKET_KEY = "gunicorn.socket"


def close_if_body_unread(start_response) -> None:
    """Make gunicorn answer "Connection: close" if the request body was not read to its end.

    gunicorn's WSGI start_response is a method of its Response, which knows the request; an
    answer sent before the body was read (a 413, typically) must not promise keep-alive, or
    the client reuses a connection the server is about to close.
    """
    response = getattr(start_response, "__self__", None)
    if isinstance(response, Response) and _body_unread(response.req):
        response.force_close()


def _body_unread(request) -> bool:
    reader = getattr(getattr(request, "body", None), "reader", None)
    return (
        (isinstance(reader, LengthReader) and reader.length > 0)
        or (isinstance(reader, ChunkedReader) and reader.parser is not None)
        or (isinstance(reader, EOFReader) and not reader.finished)
    )


def client_is_done(conn) -> bool:
    """Whether a connection's client has nothing more to send once it is answered.

    True when its last request asked to close (`Connection: close`, or HTTP/1.0 without
    keep-alive), its body was read to the end and no byte after it was read ahead: such a
    client sends no further request, so closing at once cannot reset an answer it has not read.
    """
    parser = getattr(conn, "parser", None)
    request = getattr(parser, "mesg", None)
    if request is None or _body_unread(request) or parser.unreader.buf.getbuffer().nbytes:
        return False
    tokens = {token.strip().lower() for name, value in request.headers if name == "CONNECTION"
              for token in value.split(",")}
    return "close" in tokens or (request.version <= (1, 0) and "keep-alive" not in tokens)


def take_buffered(conn) -> bytes:
    """The bytes a kept-alive connection's parser read ahead (the next request's start)."""
    parser = conn.parser
    return parser.unreader.take_buffered() if parser is not None else b""


def missing(worker=None, connection=None) -> list[str]:
    """The gunicorn internals above that this gunicorn lacks, e.g. "ThreadWorker.enqueue_req".

    With a constructed worker (or connection), their instance attributes are checked too.
    """
    gone = [f"ThreadWorker.{name}" for name in WORKER_METHODS
            if not callable(getattr(ThreadWorker, name, None))]
    gone += [f"TConn.{name}" for name in CONNECTION_METHODS
             if not callable(getattr(TConn, name, None))]
    gone += [f"ThreadWorker.{name} (no longer calls enqueue_req)"
             for name in HANDS_OFF_THROUGH_ENQUEUE_REQ
             if callable(getattr(ThreadWorker, name, None))
             and "self.enqueue_req(" not in inspect.getsource(getattr(ThreadWorker, name))]
    gone += [f"{cls.__name__}.{name}" for cls, name in (
        (Response, "force_close"), (Response, "start_response"))
        if not callable(getattr(cls, name, None))]
    gone += [f"{cls.__name__}().{name}" for cls, name in (
        (LengthReader, "length"), (ChunkedReader, "parser"), (EOFReader, "finished"))
        if name not in inspect.getsource(cls.__init__)]
    arbiter_source = inspect.getsource(arbiter)
    gone += [f"the arbiter's log line {message!r}" for message in sorted(STOP_MESSAGES)
             if f'"{message}"' not in arbiter_source]
    if not callable(ssl_context) or not callable(get_parser):
        gone.append("gunicorn.sock.ssl_context or gunicorn.http.get_parser")
    if worker is not None:
        gone += [f"ThreadWorker().{name}" for name in WORKER_ATTRIBUTES
                 if not hasattr(worker, name)]
        gone += [f"Config.{name}" for name in SETTINGS if not hasattr(worker.cfg, name)]
    if connection is not None:
        gone += [f"TConn().{name}" for name in CONNECTION_ATTRIBUTES
                 if not hasattr(connection, name)]
        parser = getattr(connection, "parser", None)
        if parser is not None:
            gone += [f"parser.{name}" for name in PARSER_ATTRIBUTES if not hasattr(parser, name)]
            unreader = getattr(parser, "unreader", None)
            gone += [f"parser.unreader.{name}" for name in UNREADER_METHODS
                     if not callable(getattr(unreader, name, None))]
            gone += [f"parser.unreader.{name}" for name in UNREADER_ATTRIBUTES
                     if not hasattr(unreader, name)]
            request = getattr(parser, "mesg", None)
            if request is not None:
                gone += [f"parser.mesg.{name}" for name in REQUEST_ATTRIBUTES
                         if not hasattr(request, name)]
    return gone


def check(worker=None, connection=None) -> None:
    """Raise RuntimeError naming every gunicorn internal the worker needs and cannot find."""
    gone = missing(worker, connection)
    if gone:
        import gunicorn

        raise RuntimeError(
            f"gunicorn {gunicorn.__version__} no longer has what portal's worker relies on: "
            + ", ".join(gone) + " (see portal/serve/gunicorn_internals.py)"
        )
