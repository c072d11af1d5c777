import os
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509

from portal.ca.serials import serial_to_hex
from portal.serve.tls import TLSContextCache
from portal.services import ca_state, certificates
from portal.services.authorities import create_ca
from portal.services.server_tls import (
    _current,
    ensure_server_certificate,
    renewal_due,
    server_files,
)
from tests.pki import pkilint_findings

pytestmark = pytest.mark.web  # /healthz reports the server certificate


def test_server_certificate_is_made_once_and_kept_while_fresh(root_ca):
    assert ensure_server_certificate() is True
    files = server_files()
    assert stat.S_IMODE(os.stat(files.key).st_mode) == 0o600
    chain = x509.load_pem_x509_certificates(Path(files.certificate).read_bytes())
    sans = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert ensure_server_certificate() is False  # fresh: not reissued


def test_renewal_is_due_after_two_thirds_of_the_lifetime(root_ca):
    ensure_server_certificate()
    certificate = _current(server_files().certificate)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    start = certificate.not_valid_before_utc
    assert not renewal_due(certificate, now=start + lifetime / 2)
    assert renewal_due(certificate, now=start + lifetime * 2 / 3 + timedelta(minutes=1))
    assert renewal_due(None)


def test_changed_names_reissue_the_certificate(app, root_ca):
    ensure_server_certificate()
    app.config["PORTAL_SERVER_NAMES"] = "pki.example.org,127.0.0.1"
    assert ensure_server_certificate() is True
    leaf = _current(server_files().certificate)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["pki.example.org"]


def test_server_certificate_for_qualified_names_lints_clean(app, root_ca, tmp_path):
    # The default names include `localhost`, which pkilint flags (single label): with
    # qualified names and addresses only, the portal's own certificate is clean too.
    app.config["PORTAL_SERVER_NAMES"] = "pki.example.org,127.0.0.1,::1"
    ensure_server_certificate(force=True)
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(Path(server_files().certificate).read_bytes().split(b"-----END")[0]
                     + b"-----END CERTIFICATE-----\n")
    assert pkilint_findings(leaf) == ""


def test_tls_context_is_built_once_per_worker_and_again_when_files_change(root_ca):
    ensure_server_certificate()
    files = server_files()
    conf = SimpleNamespace(certfile=files.certificate, keyfile=files.key,
                           ca_certs=files.client_ca_bundle)
    cache = TLSContextCache()
    first = cache(conf, None)
    assert cache(conf, None) is first
    assert first.verify_mode == ssl.CERT_OPTIONAL
    ensure_server_certificate(force=True)
    os.utime(files.certificate, ns=(0, os.stat(files.certificate).st_mtime_ns + 10**9))
    assert cache(conf, None) is not first


def test_a_revoked_server_certificate_is_reported_and_replaced(app, root_ca):
    client = app.test_client()
    ensure_server_certificate()
    revoked = _current(server_files().certificate)
    assert client.get("/healthz").json["server_certificate"]["serial"] == serial_to_hex(
        revoked.serial_number)
    assert client.get("/healthz").status_code == 200
    serial = serial_to_hex(revoked.serial_number)
    certificates.revoke_certificate(serial, reason="keyCompromise", actor="admin")

    health = client.get("/healthz")
    assert health.status_code == 503
    assert f"server certificate {serial} is revoked" in health.json["problems"]
    assert renewal_due(revoked)  # although it is fresh
    assert ensure_server_certificate() is True  # at start, every 6 h, and in `portal init`
    renewed = _current(server_files().certificate)
    assert renewed.serial_number != revoked.serial_number
    assert client.get("/healthz").status_code == 200


def test_a_server_certificate_from_a_ca_that_cannot_sign_comes_from_one_that_can(
    app, monkeypatch
):
    create_ca("short", key_type="ec-p256", days=1, actor="test")  # the default CA
    ensure_server_certificate()
    assert _current(server_files().certificate).issuer.rfc4514_string() == "CN=short"
    later = datetime.now(UTC) + timedelta(days=2)
    monkeypatch.setattr(ca_state, "_now", lambda: later)  # the default CA has now expired

    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert any("is from CA short, which signs nothing: its certificate has expired" in problem
               for problem in health.json["problems"])
    assert ensure_server_certificate() is False  # no CA can sign: the current one is kept

    create_ca("long", key_type="ec-p256", actor="test")
    assert ensure_server_certificate() is True
    assert _current(server_files().certificate).issuer.rfc4514_string() == "CN=long"
