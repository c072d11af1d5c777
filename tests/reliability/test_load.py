"""500 concurrent issuance requests against `portal serve` (several workers), then kill -9 mid-load.

On SQLite and on PostgreSQL: no request gets a 500, every certificate handed out has its
committed row, serials are unique; after a kill -9 of the whole process group the database
passes its integrity check, nothing a client received is lost, rows left pending are listed
for admins and can be revoked, and the portal serves again.
"""

import threading

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import STATUS_ISSUED, STATUS_PENDING, Certificate
from tests.reliability.conftest import BACKENDS
from tests.reliability.integrity import database_integrity, invariant_problems, received_but_missing
from tests.reliability.load import ApiConnection, make_csrs, run_load
from tests.reliability.openapi_check import response_schema
from tests.reliability.serving import serve

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", BACKENDS, indirect=True)]

REQUESTS = 500
CONCURRENCY = 50
WORKERS = 3


def rows_by_status() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for serial, status in db.session.execute(select(Certificate.serial, Certificate.status)):
        found.setdefault(status, set()).add(serial)
    db.session.remove()  # hold no snapshot or lock on PostgreSQL while servers work
    return found


def test_500_concurrent_requests_each_succeed_or_fail_cleanly(ready_to_serve):
    csrs = make_csrs(REQUESTS)
    before = rows_by_status()[STATUS_ISSUED]  # the server's own TLS certificate
    with serve(ready_to_serve.instance, workers=WORKERS) as served:
        outcomes = run_load(served.port, ready_to_serve.cafile, ready_to_serve.token, csrs,
                            concurrency=CONCURRENCY)
    assert [o.error for o in outcomes if o.error] == []
    statuses = {o.status for o in outcomes}
    assert statuses <= {201, 503}, statuses  # 503 only if the CA key were unusable
    issued = [o for o in outcomes if o.issued]
    assert len(issued) == REQUESTS
    serials = [o.body["serial"] for o in issued]
    assert len(set(serials)) == len(serials)
    assert set(response_schema("/certificates", "post", 201)) == {"$ref"}
    assert received_but_missing(outcomes) == []
    assert rows_by_status() == {STATUS_ISSUED: before | set(serials)}
    assert invariant_problems() == []


def test_kill_9_in_the_middle_of_the_load_loses_nothing(ready_to_serve, database_url, request):
    csrs = make_csrs(REQUESTS)
    postgres = request.getfixturevalue("postgres") if "postgresql" in database_url else None
    with serve(ready_to_serve.instance, workers=WORKERS) as served:
        answered = threading.Semaphore(0)
        killer = threading.Thread(
            target=lambda: ([answered.acquire() for _ in range(REQUESTS // 4)], served.kill()))
        killer.start()
        outcomes = run_load(served.port, ready_to_serve.cafile, ready_to_serve.token, csrs,
                            concurrency=CONCURRENCY, on_outcome=lambda _: answered.release())
        killer.join()
    assert {o.status for o in outcomes if o.error is None} <= {201}
    assert any(o.error for o in outcomes), "the kill came after the load had finished"
    assert database_integrity(database_url, postgres) == []
    assert invariant_problems() == []
    assert received_but_missing(outcomes) == []

    pending = rows_by_status().get(STATUS_PENDING, set())
    with serve(ready_to_serve.instance, workers=2) as served:
        api = ApiConnection(served.port, ready_to_serve.cafile, ready_to_serve.token)
        status, page = api.request("GET", "/api/v1/certificates?status=pending&limit=200")
        assert status == 200
        assert {item["serial"] for item in page["items"]} == pending
        for serial in pending:
            status, body = api.request("POST", f"/api/v1/certificates/{serial}/revoke",
                                       {"reason": "cessationOfOperation"})
            assert (status, body["status"]) == (200, "revoked")
        status, body = api.request("POST", "/api/v1/certificates",
                                   {"csr": make_csrs(1, prefix="after")[0], "profile": "server"})
        assert status == 201
        api.close()
    assert STATUS_PENDING not in rows_by_status()
    assert invariant_problems() == []
