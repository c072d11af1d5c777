"""The worker tells gunicorn's arbiter it is alive at most once a second, not on every event."""

from portal.serve import worker as worker_module
from portal.serve.worker import HEARTBEAT_SECONDS, PollingThreadWorker


class CountingTmp:
    """Stands for gunicorn's WorkerTmp: counts the heartbeats (a utime each)."""

    def __init__(self):
        self.beats = 0

    def notify(self):
        self.beats += 1


def test_the_heartbeat_is_written_once_per_interval(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(worker_module.time, "monotonic", lambda: clock[0])
    worker = object.__new__(PollingThreadWorker)  # notify() needs nothing else of a worker
    worker.tmp = CountingTmp()
    for _ in range(500):  # gunicorn's loop calls notify() on every turn
        worker.notify()
    assert worker.tmp.beats == 1
    clock[0] += HEARTBEAT_SECONDS
    worker.notify()
    assert worker.tmp.beats == 2
