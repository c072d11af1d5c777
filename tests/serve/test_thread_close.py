"""A connection whose client is done is closed by its thread, not handed back to the poller."""

import socket
from collections import deque
from concurrent.futures import Future
from types import SimpleNamespace

from portal.serve import worker as worker_module
from portal.serve.connections import bounded
from portal.serve.worker import PollingThreadWorker


class NoPoller:
    """gunicorn's method queue, which must not be used for a closed connection."""

    def __init__(self):
        self.deferred = []

    def defer(self, callback, *args):
        self.deferred.append((callback, args))


def _worker(handled: bool) -> PollingThreadWorker:
    worker = object.__new__(PollingThreadWorker)  # these calls need nothing else of a worker
    worker.handle = lambda conn: handled
    worker.method_queue = NoPoller()
    worker._closed_by_threads = deque()
    worker.nr_conns, worker.alive = 1, True
    worker.pending_conns, worker.lingering, worker.reading = deque(), {}, {}
    return worker


def _done(worker, conn, result) -> None:
    future = Future()
    future.set_result(result)
    worker._served(conn, future)


def test_a_done_client_is_closed_in_the_thread_and_counted_by_the_poller(monkeypatch):
    monkeypatch.setattr(worker_module, "client_is_done", lambda conn: True)
    ours, client = socket.socketpair()
    with client:
        client.sendall(b"bytes the client sent after its request")
        conn = SimpleNamespace(sock=bounded(ours))
        worker = _worker(handled=False)
        result = worker._serve(conn)
        assert conn.sock.fileno() == -1  # closed, in the thread
        assert client.recv(100) == b""  # the client sees the end, not a reset
        _done(worker, conn, result)
        assert worker.method_queue.deferred == [] and worker.nr_conns == 1
        worker.murder_pending()  # the poller's next turn
        assert worker.nr_conns == 0


def test_a_client_that_may_send_more_still_goes_back_to_the_poller(monkeypatch):
    monkeypatch.setattr(worker_module, "client_is_done", lambda conn: False)
    ours, client = socket.socketpair()
    with client, ours:
        conn = SimpleNamespace(sock=ours)
        worker = _worker(handled=False)
        result = worker._serve(conn)
        assert ours.fileno() != -1
        _done(worker, conn, result)
        assert [callback for callback, _ in worker.method_queue.deferred] == [
            worker.finish_request]
        assert worker.nr_conns == 1
