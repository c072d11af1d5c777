"""OCSP answers kept per process, against two real `portal serve` on one database.

Each server runs two workers, and every worker has answered (and so kept) the certificate's
"good" before `portal cert revoke` runs in a third process. Then every worker of both servers
must answer "revoked" on its first request; likewise a revoked responder certificate signs
nothing more on any worker. Which worker answered is read from /proc (the socket's holder).
"""

import http.client

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as xo
from sqlalchemy import select

from portal.extensions import db
from portal.models import OCSPResponder
from portal.services.issuance import issue_from_csr
from portal.services.ocsp_refresh import refresh_all
from tests.conftest import run_portal
from tests.e2e.test_ca_state_serve import _holder, _socket_inode
from tests.pki import make_csr
from tests.reliability.serving import serve

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)]

WORKERS = 2
ATTEMPTS = 300  # new connections tried until every worker has answered (no clock involved)


def _post(served, der: bytes) -> tuple[xo.OCSPResponse, int | None]:
    """POST /ocsp on the plain-HTTP listener, on a new connection: (response, worker pid)."""
    connection = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=60)
    try:
        connection.request("POST", "/ocsp", body=der,
                           headers={"Content-Type": "application/ocsp-request"})
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, body
        inode = _socket_inode(served.http_port, connection.sock.getsockname()[1])
        pid = _holder(served.process.pid, inode) if inode else None
        return xo.load_der_ocsp_response(body), pid
    finally:
        connection.close()


def _every_worker(served, der: bytes, expect, times: int = 1) -> dict[int, int]:
    """Ask until each worker answered `times` times; every answer must pass `expect`."""
    answered: dict[int, int] = {}
    for _attempt in range(ATTEMPTS):
        response, pid = _post(served, der)
        expect(response)
        if pid is not None:
            answered[pid] = answered.get(pid, 0) + 1
        if len(answered) == WORKERS and min(answered.values()) >= times:
            break
    return answered


def _request(leaf, ca, nonce: bytes | None = None) -> bytes:
    builder = xo.OCSPRequestBuilder().add_certificate(leaf, ca, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


@pytest.fixture
def leaf(ready_to_serve, root_ca):
    """A client certificate with a stored "good" answer, and the CA's responder serial."""
    refresh_all(actor="test")
    issued = issue_from_csr(make_csr("alice"), "client", actor="test")
    responder = db.session.scalar(select(OCSPResponder.serial))
    db.session.remove()
    return issued, x509.load_der_x509_certificate(root_ca.certificate_der), responder


def _good(response):
    assert response.response_status is xo.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is xo.OCSPCertStatus.GOOD


def _revoked(response):
    assert response.response_status is xo.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is xo.OCSPCertStatus.REVOKED
    assert response.revocation_reason is x509.ReasonFlags.key_compromise


def test_a_revocation_counts_on_the_next_request_on_every_worker_of_both_servers(
        ready_to_serve, leaf):
    issued, ca, _responder = leaf
    der = _request(issued.certificate, ca)
    env = {"PORTAL_INSTANCE": str(ready_to_serve.instance)}
    with serve(ready_to_serve.instance, workers=WORKERS) as one, \
            serve(ready_to_serve.instance, workers=WORKERS) as two:
        for served in (one, two):  # each worker's second answer comes from what it kept
            assert len(_every_worker(served, der, _good, times=2)) == WORKERS
        run_portal("cert", "revoke", issued.serial, "--reason", "keyCompromise", env=env,
                   check=True)
        for served in (one, two):
            assert len(_every_worker(served, der, _revoked)) == WORKERS


def test_a_revoked_responder_signs_nothing_more_on_any_worker_of_either_server(
        ready_to_serve, leaf):
    issued, ca, old = leaf
    env = {"PORTAL_INSTANCE": str(ready_to_serve.instance)}

    def signed_by(expected_in: bool):
        def check(response):
            _good(response)
            serials = {certificate.serial_number for certificate in response.certificates}
            assert (int(old, 16) in serials) is expected_in, serials
        return check

    counter = iter(range(1, 10_000))

    def fresh() -> bytes:  # a nonce per request: each answer is signed now
        return _request(issued.certificate, ca, nonce=next(counter).to_bytes(8, "big"))

    with serve(ready_to_serve.instance, workers=WORKERS) as one, \
            serve(ready_to_serve.instance, workers=WORKERS) as two:
        for served in (one, two):  # every worker has the responder in hand
            answered: set[int] = set()
            for _attempt in range(ATTEMPTS):
                response, pid = _post(served, fresh())
                signed_by(True)(response)
                answered.add(pid)
                if len(answered - {None}) == WORKERS:
                    break
            assert len(answered - {None}) == WORKERS
        run_portal("cert", "revoke", old, "--reason", "keyCompromise", env=env, check=True)
        for served in (one, two):
            answered = set()
            for _attempt in range(ATTEMPTS):
                response, pid = _post(served, fresh())
                signed_by(False)(response)
                answered.add(pid)
                if len(answered - {None}) == WORKERS:
                    break
            assert len(answered - {None}) == WORKERS
        # The stored answer it signed is signed again by the new responder, on every worker.
        for served in (one, two):
            assert len(_every_worker(served, _request(issued.certificate, ca),
                                     signed_by(False))) == WORKERS
