"""The audit log's chain of seals: `portal audit verify` names what was changed, removed or
inserted, even after the append-only triggers were dropped by whoever holds the database file.
"""

import sqlite3

import pytest
from cryptography import x509

from portal.services import audit_chain, issuance, users
from tests.conftest import run_portal
from tests.pki import make_csr


def write_some_events(count: int = 3) -> None:
    """Issue `count` certificates (driver path) and create a user (ORM path)."""
    for index in range(count):
        host = f"h{index}.example.com"
        issuance.issue_from_csr(make_csr(host, sans=[x509.DNSName(host)]), "server",
                                actor="test")
    users.create_user("alice", password="correct horse battery", actor="test")


def tamper(instance, *statements: str) -> None:
    """Drop the append-only triggers and run raw SQL on the database file, as an attacker."""
    database = sqlite3.connect(instance / "portal.sqlite3")
    try:
        database.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        database.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
        for statement in statements:
            database.execute(statement)
        database.commit()
    finally:
        database.close()


def ids(instance) -> list[int]:
    database = sqlite3.connect(instance / "portal.sqlite3")
    try:
        return [row[0] for row in database.execute("SELECT id FROM audit_events ORDER BY id")]
    finally:
        database.close()


def verify_cli() -> tuple[int, list[str], str]:
    result = run_portal("audit", "verify")
    return (result.returncode, result.stderr.decode().strip().splitlines(),
            result.stdout.decode())


def test_an_intact_log_verifies_with_its_count(app, root_ca, instance):
    write_some_events()
    intact, message = audit_chain.verify()
    assert intact, message
    code, errors, out = verify_cli()
    count = len(ids(instance))
    assert code == 0 and errors == [] and out == f"audit log intact: {count} rows, " \
        f"{count} sealed in the chain\n"


def test_a_changed_detail_is_named(app, root_ca, instance):
    write_some_events()
    victim = ids(instance)[2]
    tamper(instance, f"UPDATE audit_events SET detail = 'nothing to see' WHERE id = {victim}")
    code, errors, out = verify_cli()
    assert code == 1 and len(errors) == 1 and out == "", errors
    assert errors[0] == f"Error: audit row {victim} was changed or inserted: its seal does not " \
        "match its content"


def test_a_changed_actor_with_its_seal_recomputed_without_the_key_is_named(app, root_ca,
                                                                           instance):
    write_some_events()
    victim = ids(instance)[1]
    tamper(instance, f"UPDATE audit_events SET actor = 'someone else', "
                     f"seal = (SELECT seal FROM audit_events WHERE id = {victim - 1}) "
                     f"WHERE id = {victim}")
    code, errors, _ = verify_cli()
    assert code == 1 and f"audit row {victim} was changed" in errors[0]


def test_a_removed_row_is_named_by_the_gap(app, root_ca, instance):
    write_some_events()
    rows = ids(instance)
    tamper(instance, f"DELETE FROM audit_events WHERE id = {rows[2]}")
    code, errors, _ = verify_cli()
    assert code == 1 and len(errors) == 1
    assert errors[0] == f"Error: 1 audit row(s) were removed after audit row {rows[1]} before " \
        f"audit row {rows[3]} (places 3-3 of the chain)"


def test_a_removed_last_row_is_named(app, root_ca, instance):
    write_some_events()
    rows = ids(instance)
    tamper(instance, f"DELETE FROM audit_events WHERE id = {rows[-1]}")
    code, errors, _ = verify_cli()
    assert code == 1
    assert errors[0] == f"Error: 1 audit row(s) were removed at the end of the log, after " \
        f"audit row {rows[-2]}"


@pytest.mark.parametrize("sealed_like", ["none", "copied"])
def test_an_inserted_row_is_named(app, root_ca, instance, sealed_like):
    write_some_events()
    rows = ids(instance)
    if sealed_like == "none":
        values = "NULL, NULL"
    else:  # a copy of the previous row's place and seal
        values = (f"(SELECT chain_seq FROM audit_events WHERE id = {rows[-1]}), "
                  f"(SELECT seal FROM audit_events WHERE id = {rows[-1]})")
    tamper(instance, "INSERT INTO audit_events (id, at, actor, action, serial, outcome, detail, "
                     f"chain_seq, seal) VALUES (1000, '2026-01-01 00:00:00.000000', 'admin', "
                     f"'user.create', NULL, 'ok', 'mallory (admin)', {values})")
    code, errors, _ = verify_cli()
    assert code == 1 and len(errors) == 1
    assert errors[0].startswith("Error: audit row 1000 was inserted"), errors


def test_rows_written_before_the_chain_are_sealed_by_its_genesis(app, instance):
    # As if these rows came from before migration 0008: no place in the chain, then the head
    # says so; the first sealed row seals them together.
    tamper(instance,
           "INSERT INTO audit_events (id, at, actor, action, serial, outcome, detail) VALUES "
           "(1, '2025-01-01 00:00:00.000000', 'cli', 'ca.create', NULL, 'ok', 'old')",
           "INSERT INTO audit_events (id, at, actor, action, serial, outcome, detail) VALUES "
           "(2, '2025-01-02 00:00:00.000000', 'cli', 'user.create', NULL, 'ok', 'old too')",
           "UPDATE audit_chain_head SET genesis_after_id = 2")
    users.create_user("alice", password="correct horse battery", actor="test")
    assert audit_chain.verify() == (True, "audit log intact: 3 rows, 1 sealed in the chain")
    tamper(instance, "UPDATE audit_events SET detail = 'rewritten' WHERE id = 2")
    intact, message = audit_chain.verify()
    assert not intact
    assert message == ("an audit row written before the chain began (ids up to 2) was changed or "
                       "removed, before audit row 3")


def test_the_key_is_not_in_the_database(app, root_ca, instance):
    write_some_events(1)
    key = audit_chain.chain_key()
    data = (instance / "portal.sqlite3").read_bytes()
    assert key not in data and key.hex().encode() not in data


def test_several_rows_in_one_flush_chain_in_order(app, root_ca, instance):
    from portal.extensions import db
    from portal.services import audit

    for index in range(4):
        audit.record("test.batch", actor="test", detail=f"row {index}")
    db.session.commit()
    write_some_events(1)
    assert audit_chain.verify()[0], audit_chain.verify()[1]


def test_an_event_written_without_the_secret_is_kept_and_named(app, root_ca, instance):
    from portal.extensions import db
    from portal.services import audit

    write_some_events(1)
    secret = (instance / "ca-secret").read_text()
    (instance / "ca-secret").unlink()
    from portal.services import cache

    cache.clear()  # a new process: the chain key is derived again
    event = audit.record("crl.publish", actor="cli", outcome="error", detail="no secret")
    db.session.commit()
    (instance / "ca-secret").write_text(secret)
    assert event.seal is None
    assert audit_chain.verify() == (False, f"audit row {event.id} was inserted: it has no place "
                                           "in the chain (or it was written while the CA "
                                           "secret was missing)")
