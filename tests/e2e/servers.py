"""Starting real servers for end-to-end tests: free ports, readiness, clean stops."""

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import BIN


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, attempts: int = 300):
    """Wait until something accepts connections on 127.0.0.1:port (or the process dies)."""
    for _ in range(attempts):
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def stop(process: subprocess.Popen) -> None:
    """Stop a server started in its own process group, and everything it forked."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@contextmanager
def portal_serve(instance: Path, *, workers: int = 2, env: dict | None = None):
    """Run `portal serve` on free ports; yield (https_port, http_port)."""
    https_port, http_port = free_port(), free_port()
    log = open(instance / "serve.log", "wb")
    process = subprocess.Popen(
        [str(BIN / "portal"), "serve", "--port", str(https_port), "--http-port", str(http_port),
         "--workers", str(workers)],
        env={**os.environ, "PORTAL_INSTANCE": str(instance), **(env or {})},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_for_port(https_port, process)
        wait_for_port(http_port, process)
        yield https_port, http_port
    finally:
        stop(process)
        log.close()
