"""`portal serve` stops cleanly on SIGTERM and Ctrl-C: one line, exit status 0."""

import os
import signal
import time
from pathlib import Path

import pytest
import requests

from tests.serve.serving import init_instance, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stop")
    return init_instance(folder)


def _group_gone(pgid: int) -> bool:
    for _ in range(200):  # the processes of the group are reaped within moments
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize(("signum", "to_group"), [
    (signal.SIGTERM, False),  # `kill PID`
    (signal.SIGTERM, True),  # systemd's default KillMode: the whole control group
    (signal.SIGINT, True),  # Ctrl-C: the terminal signals the foreground process group
    (signal.SIGINT, False),
], ids=["sigterm", "sigterm-group", "ctrl-c", "sigint"])
def test_a_stop_writes_one_line_and_exits_0(env, signum, to_group):
    # One worker per listener: once both have answered, every worker has booted its app (a
    # worker still loading it when the stop comes may outlast the grace period on a busy box).
    with serve(env, "--threads", "3", workers=1) as server:
        assert requests.get(f"http://127.0.0.1:{server.http_port}/crl.der",
                            timeout=60).status_code == 200
        ca = str(Path(env["PORTAL_INSTANCE"]) / "client-ca.pem")
        assert requests.get(f"https://localhost:{server.port}/healthz", timeout=60,
                            verify=ca).status_code == 200
        started = server.output()
        if to_group:
            os.killpg(server.process.pid, signum)
        else:
            server.process.send_signal(signum)
        status = server.process.wait(120)
        assert _group_gone(server.process.pid)
        output = server.output()
    assert status == 0, output
    stop = output[len(started):]
    assert "Traceback" not in output and "[ERROR]" not in output, output
    assert [line for line in stop.splitlines() if "GET /" not in line] == ["portal: stopped"]
    assert (f"portal: HTTPS on https://127.0.0.1:{server.port}/ (1 worker x 3 threads); "
            f"plain HTTP for the CA certificates and CRLs on "
            f"http://127.0.0.1:{server.http_port}/ (1 worker x 3 threads)") in started
