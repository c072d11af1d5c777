"""A real PostgreSQL restart under a real `portal serve`: every request after it succeeds."""

import http.client

import pytest

from tests.reliability.load import ApiConnection, make_csrs, run_load
from tests.reliability.serving import serve

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgresql"], indirect=True)]

ROUNDS = 3


def _crl_status(port: int) -> int:
    """GET /crl.der on the plain-HTTP listener, on a new connection (the fast path's own)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", "/crl.der")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _api_status(served, ready, method: str, path: str) -> int:
    """One API request on a new connection, so that gunicorn spreads them over its workers."""
    api = ApiConnection(served.port, ready.cafile, ready.token)
    try:
        return api.request(method, path)[0]
    finally:
        api.close()


def _traffic(served, ready, serial: str, prefix: str) -> list:
    """Issuance from 6 threads (each worker's pool fills), then reads of every kind."""
    statuses = [outcome.status or outcome.error for outcome in run_load(
        served.port, ready.cafile, ready.token, make_csrs(18, prefix=prefix), concurrency=6)]
    for _ in range(8):
        statuses.append(_crl_status(served.http_port))
        statuses.append(_api_status(served, ready, "GET", f"/api/v1/certificates/{serial}"))
        statuses.append(_api_status(served, ready, "GET", "/healthz"))
    return statuses


def test_no_request_fails_after_postgresql_restarts(ready_to_serve, postgres):
    with serve(ready_to_serve.instance, workers=2) as served:
        warm = run_load(served.port, ready_to_serve.cafile, ready_to_serve.token,
                        make_csrs(1, prefix="first"))
        assert warm[0].status == 201, warm[0]
        serial = warm[0].body["serial"]
        assert set(_traffic(served, ready_to_serve, serial, "before")) <= {200, 201}
        for round_ in range(ROUNDS):
            postgres.restart()  # every pooled connection of both workers is now dead
            statuses = _traffic(served, ready_to_serve, serial, f"after{round_}-")
            assert [status for status in statuses if status not in (200, 201)] == []
    log = (ready_to_serve.instance / "serve.log").read_text(errors="replace")
    assert "fast CRL state query failed" not in log  # its held connection reconnected too
    assert "AdminShutdown" not in log
