"""PostgreSQL as a backend: the same migrations and schema, CRL numbers safe across processes."""

import multiprocessing
import os

import pytest
from cryptography import x509
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from portal import create_app, database
from portal.extensions import db
from portal.services import crl as crl_service
from tests.publishing import crl_number, issue
from tests.test_crl_concurrency import _check_numbers, _publish_events
from tests.test_migrations import schema_differences

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def empty_database(postgres, backend, monkeypatch):
    """An app on an empty PostgreSQL database (no migration applied)."""
    name = postgres.create_database(prefix="empty")
    application = create_app({"SQLALCHEMY_DATABASE_URI": postgres.url(name), "TESTING": True})
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()
    postgres.drop_database(name)


def test_migrations_build_exactly_the_models_schema_and_walk_down_and_up(empty_database):
    assert inspect(db.engine).get_table_names() == []
    database.upgrade()
    assert schema_differences() == []
    assert set(inspect(db.engine).get_table_names()) == set(db.metadata.tables) | {
        "alembic_version"}
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert schema_differences() == []


def test_the_audit_log_is_append_only_in_postgresql_too(app):
    db.session.execute(text(
        "INSERT INTO audit_events (at, actor, action, outcome, detail) "
        "VALUES (now(), 'test', 'test.event', 'ok', '')"))
    db.session.commit()
    for statement in ("UPDATE audit_events SET outcome = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()


def _revoke_each(instance: str, start, serials: list[str]) -> None:
    """In a child process: wait for the others, then revoke (each revocation re-signs the CRL)."""
    os.environ["PORTAL_INSTANCE"] = instance
    from portal import create_app
    from portal.services.certificates import revoke_certificate

    app = create_app()
    with app.app_context():
        start.wait()
        for serial in serials:
            revoke_certificate(serial, reason="keyCompromise", actor=f"process:{os.getpid()}")


def test_concurrent_revocations_from_four_processes_give_distinct_increasing_numbers(
    app, root_ca, instance
):
    issued = [issue(name=f"user{index}") for index in range(20)]
    serials = [row.serial for row, _cert, _key in issued]
    db.session.remove()
    db.engine.dispose()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_revoke_each, args=(str(instance), start, serials[i::4]))
               for i in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join()
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    highest = _check_numbers(_publish_events(), 20)
    crl = x509.load_der_x509_crl(crl_service.stored_der(crl_service.crl_state()))
    assert crl_number(crl) == highest
    assert {format(entry.serial_number, "X") for entry in crl} == {
        serial.lstrip("0") for serial in serials}


def test_the_sign_in_throttle_holds_under_concurrent_attempts(app):
    from concurrent.futures import ThreadPoolExecutor

    from portal.services.ratelimit import DatabaseStorage

    storage = DatabaseStorage("portal-db://")

    def attempt(_):
        with app.app_context():
            try:
                return storage.acquire_entry("user:mallory", 5, 60)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=20) as pool:
        allowed = list(pool.map(attempt, range(40)))
    assert allowed.count(True) == 5
