"""The audit chain stays whole when several processes write at once (SQLite and PostgreSQL)."""

import multiprocessing
import os

import pytest
from cryptography import x509
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditChainHead, AuditEvent
from portal.services import audit_chain
from tests.reliability.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)
PROCESSES = 4
EACH = 15


def _write_events(instance: str, database_url: str, start, index: int) -> None:
    """In a child process: wait for the others, then issue (driver path) and audit (ORM path)."""
    os.environ["PORTAL_INSTANCE"] = instance
    if database_url.startswith("postgresql"):
        os.environ["PORTAL_DATABASE_URL"] = database_url
    from portal import create_app
    from portal.services import issuance, users
    from tests.pki import make_csr

    app = create_app()
    with app.app_context():
        csrs = [make_csr(f"p{index}-{n}.example.com",
                         sans=[x509.DNSName(f"p{index}-{n}.example.com")]) for n in range(EACH)]
        start.wait()
        for n, csr in enumerate(csrs):
            issuance.issue_from_csr(csr, "server", actor=f"process:{index}")
            if n % 5 == 0:
                users.create_user(f"u{index}-{n}", password="correct horse battery",
                                  actor=f"process:{index}")


def test_concurrent_writers_keep_one_unbroken_chain(app, root_ca, instance, database_url):
    db.session.remove()
    db.engine.dispose()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_write_events,
                               args=(str(instance), database_url, start, index))
               for index in range(PROCESSES)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join()
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    intact, message = audit_chain.verify()
    total = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert intact, message
    assert message == f"audit log intact: {total} rows, {total} sealed in the chain"
    assert total == 1 + PROCESSES * (EACH + EACH // 5)  # ca.create, then every worker's events
    assert db.session.get(AuditChainHead, 1).length == total
