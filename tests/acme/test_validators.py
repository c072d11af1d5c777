"""The challenge validators against real servers on loopback: limits and wrong answers."""

import datetime
import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from portal.acme.identifiers import Identifier
from portal.acme.problems import AcmeProblem
from portal.acme.validators import ValidationSettings, check_http01, parse_settings
from portal.ca.acme_tls_alpn import ACME_IDENTIFIER, check_validation_certificate

NAME = Identifier("dns", "www.acme.test")
KEY_AUTH = "token.thumbprint"


class Scripted:
    """An HTTP server whose every answer is (status, headers, body) from `self.answer`."""

    def __init__(self):
        self.answer = (200, {}, KEY_AUTH.encode())
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.hits += 1
                status, headers, body = outer.answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def scripted():
    server = Scripted()
    yield server
    server.close()


def settings_for(port, **extra):
    return ValidationSettings(http_port=port, resolve={"www.acme.test": "127.0.0.1"}, **extra)


def problem_of(call) -> AcmeProblem:
    with pytest.raises(AcmeProblem) as caught:
        call()
    return caught.value


def test_the_right_answer_passes_and_a_wrong_one_is_an_incorrect_response(scripted):
    check_http01(NAME, "token", KEY_AUTH, settings_for(scripted.port))
    scripted.answer = (200, {}, b"token.other")
    problem = problem_of(lambda: check_http01(NAME, "token", KEY_AUTH,
                                              settings_for(scripted.port)))
    assert problem.kind == "incorrectResponse"


def test_redirects_are_followed_ten_times_at_most(scripted):
    scripted.answer = (302, {"Location": "/again"}, b"")
    problem = problem_of(lambda: check_http01(NAME, "token", KEY_AUTH,
                                              settings_for(scripted.port)))
    assert problem.kind == "connection" and "redirects" in problem.message
    assert scripted.hits == 11


def test_a_redirect_to_another_port_is_not_followed(scripted):
    scripted.answer = (301, {"Location": "http://www.acme.test:1/x"}, b"")
    problem = problem_of(lambda: check_http01(NAME, "token", KEY_AUTH,
                                              settings_for(scripted.port)))
    assert problem.kind == "connection" and "port 1" in problem.message


def test_an_oversized_answer_is_refused(scripted):
    scripted.answer = (200, {}, KEY_AUTH.encode() + b" " * 10000)
    problem = problem_of(lambda: check_http01(NAME, "token", KEY_AUTH,
                                              settings_for(scripted.port)))
    assert problem.kind == "unauthorized" and "8192" in problem.message


def test_a_target_that_never_answers_costs_the_timeout_only():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        problem = problem_of(lambda: check_http01(NAME, "token", KEY_AUTH,
                                                  settings_for(port, timeout=0.5)))
    assert problem.kind == "connection" and "timed out" in problem.message


def test_the_settings_are_parsed():
    parsed = parse_settings({"PORTAL_ACME_HTTP_PORT": 8080, "PORTAL_ACME_TLS_PORT": "8443",
                             "PORTAL_ACME_DNS_SERVER": "127.0.0.1:5353",
                             "PORTAL_ACME_RESOLVE": "a.test=127.0.0.1, B.test=::1"})
    assert (parsed.http_port, parsed.tls_port, parsed.dns_server) == (8080, 8443,
                                                                       ("127.0.0.1", 5353))
    assert parsed.resolve == {"a.test": "127.0.0.1", "b.test": "::1"}
    assert parse_settings({"PORTAL_ACME_DNS_SERVER": "[::1]:53"}).dns_server == ("::1", 53)
    assert parse_settings({}).dns_server is None


def test_a_resolve_pair_may_cover_a_whole_suffix(scripted):
    settings = ValidationSettings(http_port=scripted.port, resolve={"*.acme.test": "127.0.0.1"})
    check_http01(Identifier("dns", "deep.www.acme.test"), "token", KEY_AUTH, settings)
    assert scripted.hits == 1


def validation_certificate(names, digest: bytes | None, *, critical=True):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([]))
               .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "x")]))
               .public_key(key.public_key()).serial_number(1).not_valid_before(now)
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.SubjectAlternativeName(names), critical=True))
    if digest is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ACME_IDENTIFIER, b"\x04\x20" + digest), critical=critical)
    from cryptography.hazmat.primitives.serialization import Encoding

    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


def test_the_tls_alpn01_certificate_check():
    digest = hashlib.sha256(KEY_AUTH.encode()).digest()
    good = validation_certificate([x509.DNSName("www.acme.test")], digest)
    assert check_validation_certificate(good, "dns", "www.acme.test", KEY_AUTH) is None
    cases = {
        "exactly": validation_certificate([x509.DNSName("www.acme.test"),
                                           x509.DNSName("x.acme.test")], digest),
        "no acmeIdentifier": validation_certificate([x509.DNSName("www.acme.test")], None),
        "not critical": validation_certificate([x509.DNSName("www.acme.test")], digest,
                                               critical=False),
        "digest": validation_certificate([x509.DNSName("www.acme.test")], b"\0" * 32),
    }
    for words, der in cases.items():
        assert words in check_validation_certificate(der, "dns", "www.acme.test", KEY_AUTH)
