"""The one fast-SQL path (services/driver.py): held connections, column defaults, processors."""

import gc
import threading
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import event, insert, select

from portal.ca.pem import to_pem
from portal.extensions import db
from portal.models import AuditEvent, Certificate
from portal.services import audit, certificates, issuance
from portal.services.driver import DriverStatement, thread_connection
from portal.services.driver_times import bind_processor_for, result_processor_for
from tests.peer import presenting
from tests.pki import make_csr


def _checkouts(engine) -> list:
    taken: list = []
    event.listen(engine, "checkout", lambda *args: taken.append(1))
    return taken


def _issue(name: str = "leaf", profile: str = "server"):
    return issuance.issue_from_csr(make_csr(name), profile, actor="test")


def test_issuance_keeps_one_connection_per_thread_instead_of_the_pool(root_ca):
    _issue("first.example.com")  # the thread's connection is opened here
    taken = _checkouts(db.engine)
    for index in range(5):
        _issue(f"host{index}.example.com")
    assert taken == []  # each checkout and checkin cost ~40 µs, and emptied SQLite's cache
    assert db.session.query(Certificate).filter_by(status="issued").count() == 6


def test_a_thread_gives_its_connection_back_when_it_ends(app, root_ca):
    engine, app_object = db.engine, app
    before = engine.pool.checkedout()

    def work():
        with app_object.app_context(), thread_connection(engine) as connection:
            assert connection.first(select(Certificate.id).limit(1)) is None

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    gc.collect()
    assert engine.pool.checkedout() == before


def test_a_nested_use_gets_a_connection_of_its_own(app):
    engine = db.engine
    with thread_connection(engine) as outer, thread_connection(engine) as inner:
        assert inner is not outer
    with thread_connection(engine) as again:
        assert again is outer


def test_an_engine_disposal_closes_the_held_connections(app):
    engine = db.engine
    with thread_connection(engine) as first:
        pass
    engine.dispose()
    with thread_connection(engine) as second:
        assert second is not first
        assert second.first(select(AuditEvent.id).limit(1)) is None


def test_what_a_block_leaves_uncommitted_is_rolled_back(app, root_ca):
    engine = db.engine
    row = audit.event_row("test.rollback", actor="t")
    with thread_connection(engine) as connection:
        connection.execute(insert(AuditEvent.__table__), row, ("at", "action", "actor",
                                                                "serial", "outcome", "detail"))
    assert db.session.query(AuditEvent).filter_by(action="test.rollback").count() == 0


def test_an_insert_takes_the_tables_column_defaults(app):
    statement = DriverStatement(insert(AuditEvent.__table__), db.engine.dialect,
                                ("action", "actor", "outcome"))
    with thread_connection(db.engine) as connection:
        row_id = statement.execute(connection.cursor, {"action": "test.defaults", "actor": "t",
                                                      "outcome": "ok"})
        connection.commit()
    stored = db.session.get(AuditEvent, row_id)
    assert stored.detail == ""  # Column(default="")
    assert stored.at is not None and stored.at.tzinfo is not None  # Column(default=utcnow)


def test_an_event_row_has_the_defaults_and_the_cut_of_a_recorded_event(app):
    row = audit.event_row("test.cut", actor="a" * 300, detail="d" * 3000)
    assert len(row["actor"]) == 128 and len(row["detail"]) == 2000
    assert row["at"].tzinfo is not None and row["outcome"] == "ok"


def test_rows_come_back_through_the_column_types(root_ca):
    issued = _issue("types.example.com")
    with thread_connection(db.engine) as connection:
        not_after, created_at = connection.first(
            select(Certificate.not_after, Certificate.created_at).where(
                Certificate.id == issued.id)
        )
    assert not_after == issued.not_after and created_at == issued.created_at  # aware UTC


def test_ping_verifies_a_certificates_signature_once_and_its_record_every_time(
    root_ca, client, monkeypatch
):
    from portal.ca import clientcert

    leaf = _issue("client.example.com", profile="client")
    pem = to_pem(leaf.certificate).decode()
    verified = []
    original = clientcert.find_issuer
    monkeypatch.setattr(clientcert, "find_issuer",
                        lambda *args: verified.append(1) or original(*args))
    for _ in range(3):
        assert client.get("/ping", environ_base=presenting(pem)).text == "pong"
    assert len(verified) == 1  # a signature check costs as much as the TLS handshake's own
    certificates.revoke_certificate(leaf.serial, reason="keyCompromise", actor="test")
    refused = client.get("/ping", environ_base=presenting(pem))
    assert refused.status_code == 403 and "revoked" in refused.text


_TIMES = [
    None,
    datetime(2026, 12, 1, 16, 0, tzinfo=UTC),
    datetime(2026, 12, 1, 16, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 12, 1, 17, 30, tzinfo=timezone(timedelta(hours=1, minutes=30))),
    datetime(2026, 1, 2, 3, 4, 5, 6),
    datetime(1, 1, 1),
    datetime(999, 5, 6, 7, 8, 9),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


def test_times_are_written_and_read_exactly_as_the_column_type_does(app):
    dialect = db.engine.dialect
    column_type = Certificate.__table__.c.not_after.type
    own_bind = column_type.dialect_impl(dialect).bind_processor(dialect)
    own_result = column_type.dialect_impl(dialect).result_processor(dialect, None)
    bind = bind_processor_for(column_type, dialect)
    result = result_processor_for(column_type, dialect)
    if dialect.name == "sqlite":  # the fast path is taken, not silently given up
        assert bind is not own_bind and result is not own_result
    for value in _TIMES:
        assert bind(value) == own_bind(value), value
        stored = own_bind(value)
        assert result(stored) == own_result(stored), stored
    for text in ("2026-12-01 16:00:00", "2026-12-01", "2026-12-01 16:00:00.5+02:00"):
        assert result(text) == own_result(text), text


def test_a_time_written_on_the_driver_reads_back_the_same_through_the_orm(app):
    moment = datetime(2026, 12, 1, 16, 0, 0, 654321, tzinfo=UTC)
    with thread_connection(db.engine) as connection:
        row_id = connection.execute(insert(AuditEvent.__table__), {
            "at": moment, "action": "test.time", "actor": "t", "outcome": "ok"},
            ("at", "action", "actor", "outcome"))
        connection.commit()
        (read,) = connection.first(select(AuditEvent.at).where(AuditEvent.id == row_id))
    assert read == moment and db.session.get(AuditEvent, row_id).at == moment
