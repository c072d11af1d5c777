"""`portal backup` while `portal serve` is issuing, and `portal restore` (SQLite and PostgreSQL)."""

import http.client
import itertools
import threading

import pytest
from cryptography import x509
from sqlalchemy import select

from portal.extensions import db
from portal.models import STATUS_ISSUED, AuditEvent, Certificate
from tests.conftest import run_portal
from tests.publishing import crl_number
from tests.reliability.conftest import BACKENDS
from tests.reliability.integrity import database_integrity, invariant_problems
from tests.reliability.load import ApiConnection, make_csrs, run_load
from tests.reliability.serving import serve

pytestmark = pytest.mark.slow


def served_crl_number(port: int) -> int:
    """The number of the CRL a running `portal serve` hands out on its HTTP listener."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", "/crl.der")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 200, body
    return crl_number(x509.load_der_x509_crl(body))


def issued_serials() -> set[str]:
    """Serials of issued rows (the session is closed after: no lock held on PostgreSQL)."""
    try:
        return set(db.session.scalars(
            select(Certificate.serial).where(Certificate.status == STATUS_ISSUED)))
    finally:
        db.session.remove()


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_backup_while_serving_then_restore_while_serving(ready_to_serve, database_url, tmp_path,
                                                         request):
    postgres = request.getfixturevalue("postgres") if "postgresql" in database_url else None
    backup_file = tmp_path / "portal.backup"
    with serve(ready_to_serve.instance, workers=2) as served:
        outcomes = []
        warm, backed_up = threading.Event(), threading.Event()

        def keep_issuing():
            """Batches of 20 until one has run wholly after the backup."""
            for batch in itertools.count():
                after_backup = backed_up.is_set()
                outcomes.extend(run_load(served.port, ready_to_serve.cafile,
                                         ready_to_serve.token, make_csrs(20, prefix=f"b{batch}-"),
                                         concurrency=4))
                warm.set()
                if after_backup:
                    return

        load = threading.Thread(target=keep_issuing)
        load.start()
        warm.wait()
        committed_before = issued_serials()
        crl_before = served_crl_number(served.http_port)
        made = run_portal("backup", "--out", str(backup_file))
        backed_up.set()
        load.join()
        assert made.returncode == 0, made.stderr.decode()
        assert b"backup written to" in made.stdout and b"ca-secret" in made.stderr
        assert [o.error for o in outcomes if o.error] == []
        assert {o.status for o in outcomes} == {201}
        everything = issued_serials()
        assert {o.body["serial"] for o in outcomes} <= everything

        refused = run_portal("restore", str(backup_file))
        assert refused.returncode == 1 and b"--force" in refused.stderr
        assert b"Traceback" not in refused.stderr
        assert issued_serials() == everything

        restored = run_portal("restore", str(backup_file), "--force")
        assert restored.returncode == 0, restored.stderr.decode()
        assert b"restart every `portal serve`" in restored.stdout
        assert served_crl_number(served.http_port) > crl_before  # re-signed: never an older one
        in_backup = issued_serials()
        assert committed_before <= in_backup <= everything
        assert len(in_backup) < len(everything)  # the load went on after the snapshot
        assert database_integrity(database_url, postgres) == []
        assert invariant_problems() == []
        actions = db.session.scalars(select(AuditEvent.action)).all()
        db.session.remove()
        assert "backup.restore" in actions

        api = ApiConnection(served.port, ready_to_serve.cafile, ready_to_serve.token)
        status, body = api.request("POST", "/api/v1/certificates",
                                   {"csr": make_csrs(1, prefix="after")[0], "profile": "server"})
        assert status == 201
        status, found = api.request("GET", f"/api/v1/certificates/{body['serial']}")
        assert status == 200 and found["status"] == "issued"
        api.close()


def test_restore_refuses_what_is_not_a_backup_of_this_kind(ready_to_serve, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a backup at all")
    result = run_portal("restore", str(junk), "--force")
    assert result.returncode == 1
    assert b"neither a SQLite backup nor a pg_dump" in result.stderr
    assert b"Traceback" not in result.stderr
    missing_folder = run_portal("backup", "--out", str(tmp_path / "no" / "such" / "file"))
    assert missing_folder.returncode == 1 and b"does not exist" in missing_folder.stderr
