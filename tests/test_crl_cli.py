"""`portal crl refresh` and `portal crl export`."""

import os
import re
import stat
from datetime import timedelta

import pytest
from cryptography import x509
from sqlalchemy import update

from portal import create_app
from portal.extensions import db
from portal.models import PublishedCRL
from portal.services import certificates
from portal.services import crl as crl_service
from portal.services.authorities import create_ca
from tests.conftest import run_portal
from tests.publishing import crl_number, fetch_crl, issue


def _set_times(*, this_update, next_update) -> None:
    db.session.execute(update(PublishedCRL.__table__)
                       .values(this_update=this_update, next_update=next_update))
    db.session.commit()


def test_export_writes_atomically_and_runs_then_only_on_change(runner, client, root_ca, tmp_path):
    out = tmp_path / "out" / "crl.pem"
    out.parent.mkdir()
    marker = tmp_path / "reloads"
    then = f"echo reload >> {marker}"
    result = runner.invoke(args=["crl", "export", "--out", str(out), "--then", then])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    assert out.read_bytes() == client.get("/crl.pem").data
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o644
    assert os.listdir(out.parent) == ["crl.pem"]  # no temporary file left behind
    assert marker.read_text().splitlines() == ["reload"]

    again = runner.invoke(args=["crl", "export", "--out", str(out), "--then", then])
    assert again.exit_code == 0 and "unchanged" in again.output
    assert marker.read_text().splitlines() == ["reload"]

    row, cert, _ = issue()
    certificates.revoke_certificate(row.serial, actor="test")
    changed = runner.invoke(args=["crl", "export", "--out", str(out), "--then", then])
    assert changed.exit_code == 0 and "wrote" in changed.output
    assert marker.read_text().splitlines() == ["reload", "reload"]
    crl = x509.load_pem_x509_crl(out.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None


def test_export_der_and_an_existing_files_mode_is_kept(runner, client, root_ca, tmp_path):
    out = tmp_path / "crl.der"
    out.write_bytes(b"old")
    out.chmod(0o640)
    result = runner.invoke(args=["crl", "export", "--out", str(out), "--format", "der",
                                 "--ca", "root"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == client.get("/crl.der").data
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640


def test_export_pem_carries_the_crls_of_the_whole_chain(runner, client, root_ca, tmp_path):
    create_ca("issuing", key_type="ec-p256", parent="root", actor="test")
    out = tmp_path / "crls.pem"
    result = runner.invoke(args=["crl", "export", "--out", str(out), "--ca", "issuing"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == client.get("/ca/issuing/crl.pem").data + client.get("/crl.pem").data
    alone = runner.invoke(args=["crl", "export", "--out", str(out), "--ca", "issuing",
                                "--no-chain"])
    assert alone.exit_code == 0
    assert out.read_bytes() == client.get("/ca/issuing/crl.pem").data
    refused = runner.invoke(args=["crl", "export", "--out", str(out), "--format", "der",
                                  "--chain"])
    assert refused.exit_code != 0 and "--chain needs --format pem" in refused.output


def test_a_failing_then_command_fails_the_export(runner, root_ca, tmp_path):
    result = runner.invoke(args=["crl", "export", "--out", str(tmp_path / "c.pem"),
                                 "--then", "exit 3"])
    assert result.exit_code == 1
    assert "--then command failed with exit status 3" in result.output


def test_refresh_signs_only_what_is_due_unless_forced(runner, client, root_ca):
    def published(result) -> int:
        assert result.exit_code == 0, result.output
        return int(re.fullmatch(r"root: published CRL number (\d+) .*\n", result.output)[1])

    first = published(runner.invoke(args=["crl", "refresh"]))
    fresh = runner.invoke(args=["crl", "refresh"])
    assert fresh.exit_code == 0 and f"root: CRL number {first} is fresh" in fresh.output
    forced = published(runner.invoke(args=["crl", "refresh", "--force", "--ca", "root"]))
    now = crl_service.utcnow()
    _set_times(this_update=now - timedelta(days=4), next_update=now + timedelta(days=3))
    due = published(runner.invoke(args=["crl", "refresh"]))
    assert first < forced < due
    assert crl_number(fetch_crl(client)) == due


@pytest.fixture
def secretless(app, client, root_ca, instance):
    """A published CRL, then a new app whose CA secret is gone."""
    fetch_crl(client)
    (instance / "ca-secret").unlink()
    fresh = create_app({"TESTING": True})
    with fresh.app_context():
        yield fresh
        db.session.remove()
        db.engine.dispose()


def test_refresh_and_export_fail_loudly_without_the_secret(secretless, tmp_path):
    runner = secretless.test_cli_runner()
    now = crl_service.utcnow()
    _set_times(this_update=now - timedelta(days=5), next_update=now + timedelta(days=2))
    refreshed = runner.invoke(args=["crl", "refresh"])
    assert refreshed.exit_code == 1
    assert "CANNOT RE-SIGN THE CRL" in refreshed.output and "CA secret" in refreshed.output
    # Still valid for two days: exported (nginx keeps working), but the exit status says why.
    out = tmp_path / "crl.pem"
    exported = runner.invoke(args=["crl", "export", "--out", str(out)])
    assert exported.exit_code == 1 and out.exists()
    assert "could not be re-signed" in exported.output

    _set_times(this_update=now - timedelta(days=8), next_update=now - timedelta(days=1))
    out.unlink()
    expired = runner.invoke(args=["crl", "export", "--out", str(out), "--then", "true"])
    assert expired.exit_code == 1
    assert "has expired and cannot be signed" in expired.output
    assert not out.exists()


def test_the_real_command_line(instance, root_ca, tmp_path):
    ca_der = root_ca.certificate_der
    db.session.remove()
    db.engine.dispose()
    out = tmp_path / "crl.der"
    result = run_portal("crl", "export", "--out", str(out), "--format", "der", check=True)
    assert b"wrote" in result.stdout
    assert x509.load_der_x509_crl(out.read_bytes()).is_signature_valid(
        x509.load_der_x509_certificate(ca_der).public_key())
    refreshed = run_portal("crl", "refresh", check=True)
    assert b"is fresh" in refreshed.stdout
