"""Every gunicorn name the portal's worker relies on that is not gunicorn's public API.

gunicorn documents its settings and the worker hooks, not the gthread worker's insides. The
worker in `worker.py` reaches into them, so they are all named here and nowhere else, and
`missing()` says, by name, which of them a gunicorn release no longer has: the test suite
and every worker's start call it, so an upgrade fails loudly instead of serving wrongly.
"""

from gunicorn.http import get_parser
from gunicorn.workers.gthread import _DEFER, TConn, ThreadWorker

__all__ = ["DEFER", "TConn", "ThreadWorker", "get_parser", "missing", "check"]

# Returned by ThreadWorker.handle(): "put this connection back on the poller".
DEFER = _DEFER

# Methods of ThreadWorker that the portal's worker overrides or calls.
WORKER_METHODS = (
    "accept", "enqueue_req", "handle", "finish_request", "init_process", "murder_pending",
    "on_client_socket_readable", "on_pending_socket_readable", "handle_exit", "run",
)
# Attributes a ThreadWorker has once constructed.
WORKER_ATTRIBUTES = ("poller", "pending_conns", "keepalived_conns", "nr_conns", "alive",
                     "cfg", "log", "tpool", "method_queue")
# What a TConn has once constructed, and its methods.
CONNECTION_ATTRIBUTES = ("cfg", "sock", "client", "server", "timeout", "parser", "initialized",
                         "data_ready")
CONNECTION_METHODS = ("init", "close", "set_timeout")
# The HTTP/1 parser's read-back buffer: bytes read on the poller are handed back through it.
PARSER_ATTRIBUTES = ("unreader",)
UNREADER_METHODS = ("unread",)


def missing(worker=None, connection=None) -> list[str]:
    """The gunicorn internals above that this gunicorn lacks, e.g. "ThreadWorker.enqueue_req".

    With a constructed worker (or connection), their instance attributes are checked too.
    """
    gone = [f"ThreadWorker.{name}" for name in WORKER_METHODS
            if not callable(getattr(ThreadWorker, name, None))]
    gone += [f"TConn.{name}" for name in CONNECTION_METHODS
             if not callable(getattr(TConn, name, None))]
    if worker is not None:
        gone += [f"ThreadWorker().{name}" for name in WORKER_ATTRIBUTES
                 if not hasattr(worker, name)]
    if connection is not None:
        gone += [f"TConn().{name}" for name in CONNECTION_ATTRIBUTES
                 if not hasattr(connection, name)]
        parser = getattr(connection, "parser", None)
        if parser is not None:
            gone += [f"parser.{name}" for name in PARSER_ATTRIBUTES if not hasattr(parser, name)]
            unreader = getattr(parser, "unreader", None)
            gone += [f"parser.unreader.{name}" for name in UNREADER_METHODS
                     if not callable(getattr(unreader, name, None))]
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
