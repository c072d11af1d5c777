"""The gunicorn internals `portal serve`'s worker relies on are all still there."""

import socket
from types import SimpleNamespace

import gunicorn
import pytest
from gunicorn.config import Config

from portal.serve import gunicorn_internals
from portal.serve.gunicorn_internals import TConn, ThreadWorker, get_parser


@pytest.fixture
def worker():
    cfg = Config()
    worker = ThreadWorker(0, 0, [], None, 30, cfg, SimpleNamespace())
    yield worker
    worker.tmp.close()


def test_this_gunicorn_has_every_internal_the_worker_uses(worker):
    left, right = socket.socketpair()
    with left, right:
        connection = TConn(worker.cfg, left, ("127.0.0.1", 1), ("127.0.0.1", 2))
        connection.parser = get_parser(worker.cfg, left, ("127.0.0.1", 1))
        assert gunicorn_internals.missing(worker, connection) == [], gunicorn.__version__
        gunicorn_internals.check(worker, connection)


def test_a_missing_internal_is_named(monkeypatch, worker):
    monkeypatch.delattr(ThreadWorker, "murder_pending")
    del worker.keepalived_conns
    with pytest.raises(RuntimeError) as caught:
        gunicorn_internals.check(worker)
    assert "ThreadWorker.murder_pending" in str(caught.value)
    assert "ThreadWorker().keepalived_conns" in str(caught.value)


def test_the_old_dotted_path_of_the_worker_still_loads():
    from gunicorn.util import load_class

    from portal.serve.worker import PollingThreadWorker

    assert load_class("portal.server.PollingThreadWorker") is PollingThreadWorker
    assert load_class("portal.serve.worker.PollingThreadWorker") is PollingThreadWorker


def test_a_hand_off_that_bypasses_enqueue_req_is_named(monkeypatch):
    def on_client_socket_readable(self, conn, client):
        self.tpool.submit(self.handle, conn)

    monkeypatch.setattr(ThreadWorker, "on_client_socket_readable", on_client_socket_readable)
    assert gunicorn_internals.missing() == [
        "ThreadWorker.on_client_socket_readable (no longer calls enqueue_req)"
    ]


@pytest.mark.parametrize(("request_bytes", "done"), [
    (b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", True),
    (b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, Close\r\n\r\n", True),
    (b"GET /ping HTTP/1.0\r\n\r\n", True),
    (b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", False),  # may send its next request
    (b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", False),
    (b"POST /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n",
     False),  # its body is still to come
    (b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n",
     False),  # bytes after the request were read ahead
])
def test_a_client_is_done_only_when_it_asked_to_close_and_sent_nothing_more(
    worker, request_bytes, done
):
    left, right = socket.socketpair()
    with left, right:
        connection = TConn(worker.cfg, left, ("127.0.0.1", 1), ("127.0.0.1", 2))
        connection.parser = get_parser(worker.cfg, left, ("127.0.0.1", 1))
        right.sendall(request_bytes)
        right.shutdown(socket.SHUT_WR)
        next(connection.parser)
        assert gunicorn_internals.missing(worker, connection) == []
        assert gunicorn_internals.client_is_done(connection) is done
