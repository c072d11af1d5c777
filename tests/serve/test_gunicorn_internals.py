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
