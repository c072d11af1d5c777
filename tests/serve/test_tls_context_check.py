"""A new connection's TLS context looks for renewed files at most once a second, not each time."""

from portal.serve import worker as worker_module
from portal.serve.worker import TLS_FILES_CHECK_SECONDS, PollingThreadWorker


def test_the_context_files_are_looked_at_once_per_interval(monkeypatch):
    built = []
    monkeypatch.setattr(worker_module, "ssl_context", lambda cfg: built.append(cfg) or len(built))
    worker = object.__new__(PollingThreadWorker)  # _tls_context() needs nothing else of a worker
    worker.cfg = object()
    worker._context, worker._context_checked = None, float("-inf")
    contexts = [worker._tls_context(1000.0 + step / 1000) for step in range(500)]
    assert contexts == [1] * 500 and len(built) == 1
    # A second later the files are looked at again: a renewed certificate is then served.
    assert worker._tls_context(1000.0 + TLS_FILES_CHECK_SECONDS) == 2
