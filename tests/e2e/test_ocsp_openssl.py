"""`openssl ocsp` against a real `portal serve`: good, revoked at once, unknown, nonce, GET."""

import base64
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ocsp as xo

from tests.conftest import require_program, run_portal
from tests.e2e.servers import portal_serve
from tests.e2e.test_serve_ping import issue
from tests.pki import ocsp_findings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["responder", "ca"])
def served(request, tmp_path_factory):
    """An instance with two client certificates, served by `portal serve` (plain HTTP too)."""
    folder = tmp_path_factory.mktemp(f"ocsp-{request.param}")
    instance = folder / "instance"
    env = {"PORTAL_INSTANCE": str(instance), "PORTAL_OCSP_SIGNER": request.param}
    run_portal("init", env=env, check=True)
    certs = {name: issue(env, folder, name, "client", f"/CN={name}")
             for name in ("alice", "bob")}
    ca = folder / "ca.pem"
    ca.write_bytes((instance / "client-ca.pem").read_bytes())
    with portal_serve(instance, env=env) as (_https, http_port):
        yield {"env": env, "folder": folder, "certs": certs, "ca": ca,
               "url": f"http://127.0.0.1:{http_port}/ocsp", "mode": request.param}


def openssl_ocsp(served, cert: Path, *extra: str) -> subprocess.CompletedProcess:
    """`openssl ocsp -issuer CA -cert CERT -url URL -CAfile CA`, its output as text."""
    return subprocess.run(
        [require_program("openssl"), "ocsp", "-issuer", str(served["ca"]), "-cert", str(cert),
         "-url", served["url"], "-CAfile", str(served["ca"]), *extra],
        capture_output=True, text=True, timeout=60,
    )


def test_good_then_revoked_with_the_reason_right_after_portal_cert_revoke(served):
    cert, _key, serial = served["certs"]["bob"]
    before = openssl_ocsp(served, cert)
    assert "Response verify OK" in before.stderr, before.stderr
    assert f"{cert}: good" in before.stdout
    run_portal("cert", "revoke", serial, "--reason", "keyCompromise", env=served["env"],
               check=True)
    after = openssl_ocsp(served, cert)
    assert "Response verify OK" in after.stderr, after.stderr
    assert f"{cert}: revoked" in after.stdout
    assert "Reason: keyCompromise" in after.stdout
    assert re.search(r"Revocation Time: \w+ +\d+ [\d:]+ \d{4} GMT", after.stdout)


def test_a_serial_the_ca_never_issued_is_unknown(served):
    result = subprocess.run(
        [require_program("openssl"), "ocsp", "-issuer", str(served["ca"]), "-serial",
         "0x" + "5A" * 19, "-url", served["url"], "-CAfile", str(served["ca"])],
        capture_output=True, text=True, timeout=60,
    )
    assert "Response verify OK" in result.stderr, result.stderr
    assert ": unknown" in result.stdout


def test_the_nonce_is_echoed_and_checked(served):
    cert = served["certs"]["alice"][0]
    result = openssl_ocsp(served, cert, "-nonce", "-resp_text")
    assert "Response verify OK" in result.stderr, result.stderr
    assert "WARNING: no nonce in response" not in result.stderr
    assert "OCSP Nonce" in result.stdout
    assert f"{cert}: good" in result.stdout


def test_get_and_post_agree_and_every_answer_lints_clean(served, tmp_path):
    cert = served["certs"]["alice"][0]
    request_file = tmp_path / "request.der"
    subprocess.run(
        [require_program("openssl"), "ocsp", "-issuer", str(served["ca"]), "-cert", str(cert),
         "-no_nonce", "-reqout", str(request_file)], check=True, capture_output=True, timeout=60)
    der = request_file.read_bytes()
    post = urllib.request.Request(served["url"], data=der, method="POST",
                                  headers={"Content-Type": "application/ocsp-request"})
    with urllib.request.urlopen(post, timeout=60) as response:
        posted = response.read()
        assert response.headers["Content-Type"] == "application/ocsp-response"
    get_url = served["url"] + "/" + urllib.request.quote(base64.b64encode(der).decode(), safe="")
    with urllib.request.urlopen(get_url, timeout=60) as response:
        got = response.read()
        assert response.headers["ETag"] and response.headers["Expires"]
    assert got == posted
    parsed = xo.load_der_ocsp_response(got)
    assert parsed.certificate_status is xo.OCSPCertStatus.GOOD
    leaf = x509.load_pem_x509_certificate(cert.read_bytes())
    assert parsed.serial_number == leaf.serial_number
    # With its own responder (default) the response carries the responder's certificate.
    assert len(parsed.certificates) == (1 if served["mode"] == "responder" else 0)
    (tmp_path / "response.der").write_bytes(got)
    assert ocsp_findings(tmp_path / "response.der") == ""
    assert parsed.responder_key_hash is not None


def test_the_certificates_name_the_responder_next_to_ca_issuers(served):
    leaf = x509.load_pem_x509_certificate(served["certs"]["alice"][0].read_bytes())
    access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    methods = {item.access_method._name: item.access_location.value for item in access}
    assert methods == {"OCSP": "http://127.0.0.1:8080/ocsp",
                       "caIssuers": "http://127.0.0.1:8080/ca.crt"}


def _raw(port: int, data: bytes) -> bytes:
    """Send raw bytes to the plain-HTTP listener, half-close, read the whole answer."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _head(path: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/ocsp-request\r\nConnection: close\r\n{extra}\r\n").encode()


def test_hostile_requests_over_http_get_malformed_or_a_4xx_never_a_500(served):
    port = int(served["url"].rsplit(":", 1)[1].split("/", 1)[0])
    malformed = b"\x30\x03\x0a\x01\x01"
    cases = {
        "garbage": (_head("/ocsp", "Content-Length: 9\r\n") + b"not a der", b"200", malformed),
        "truncated body": (_head("/ocsp", "Content-Length: 200\r\n") + b"\x30\x81\xc5" + b"\x00"
                           * 20, b"200", malformed),
        "oversize": (_head("/ocsp", "Content-Length: 1000000\r\n") + b"\x30" * 5000, b"413", b""),
        "chunked oversize": (_head("/ocsp", "Transfer-Encoding: chunked\r\n")
                             + b"2000\r\n" + b"\x30" * 8192 + b"\r\n0\r\n\r\n", b"413", b""),
        "chunked garbage": (_head("/ca/nope/ocsp", "Transfer-Encoding: chunked\r\n")
                            + b"5\r\nhello\r\n0\r\n\r\n", b"200", malformed),
        "bad base64": (b"GET /ocsp/%25%25%25 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                       b"200", malformed),
    }
    for name, (data, status, body) in cases.items():
        answer = _raw(port, data)
        assert answer.split(b" ", 2)[1] == status, (name, answer[:300])
        if body:
            assert answer.endswith(b"\r\n\r\n" + body), (name, answer[-300:])
