"""`portal serve` for the reliability tests: a handle that can also kill -9 the whole group."""

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import BIN
from tests.e2e.servers import free_port, stop, wait_for_port


@dataclass
class Served:
    """A running `portal serve`: its process (leader of its own group) and ports."""

    process: subprocess.Popen
    port: int
    http_port: int
    instance: Path

    def kill(self) -> None:
        """kill -9 the server and every process it forked (gunicorn master, workers, HTTP)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        for _ in range(100):  # the group's members are gone once kill() returns
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


@contextmanager
def serve(instance: Path, *, workers: int = 3, env: dict | None = None):
    """Start `portal serve` on free loopback ports; yield a Served; stop the group at the end."""
    port, http_port = free_port(), free_port()
    log = open(instance / "serve.log", "ab")
    process = subprocess.Popen(
        [str(BIN / "portal"), "serve", "--port", str(port), "--http-port", str(http_port),
         "--workers", str(workers)],
        env={**os.environ, "PORTAL_INSTANCE": str(instance), **(env or {})},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_for_port(port, process)
        wait_for_port(http_port, process)
        yield Served(process, port, http_port, instance)
    finally:
        try:
            stop(process)
        except ProcessLookupError:
            pass
        log.close()
