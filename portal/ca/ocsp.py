"""OCSP (RFC 6960, RFC 5019 profile): requests parsed, responses built and signed.

cryptography's `OCSPResponseBuilder` holds exactly one SingleResponse, and its request parser
refuses a request for several certificates (NotImplementedError). RFC 5019 2.1.1 has clients
send one certificate per request, so a request for several is answered `malformedRequest`,
never answered for only one of them.

Responses are signed either by a delegated responder certificate issued by the CA (EKU
OCSPSigning, id-pkix-ocsp-nocheck; see profiles.OCSP_PROFILE) and included in the response,
or by the CA key itself, identified by its key hash.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from .keys import signature_hash_for
from .revocation import REASONS

MAX_REQUEST_BYTES = 4096  # one CertID and a nonce are ~120 bytes; anything this big is not one
NONCE_MIN_BYTES, NONCE_MAX_BYTES = 1, 32  # RFC 8954 2.1
# CertID hash algorithms answered, by the names the storage uses. SHA-1 is what RFC 5019 asks
# every responder to accept (and what nginx, Apache and `openssl ocsp` send).
HASH_ALGORITHMS: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(),
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
_NAME_OF_HASH = {type(algorithm): name for name, algorithm in HASH_ALGORITHMS.items()}
GOOD, REVOKED, UNKNOWN = "good", "revoked", "unknown"
_STATUS = {
    GOOD: ocsp.OCSPCertStatus.GOOD,
    REVOKED: ocsp.OCSPCertStatus.REVOKED,
    UNKNOWN: ocsp.OCSPCertStatus.UNKNOWN,
}
_BACKDATE = timedelta(minutes=1)  # thisUpdate a little in the past, for clients that lag


class MalformedRequest(ValueError):
    """The request is not one OCSP request for one certificate this responder can read."""


@dataclass(frozen=True, slots=True)
class OCSPQuery:
    """One parsed request: the CertID's parts and the nonce (None without one)."""

    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    nonce: bytes | None


def parse_request(der: bytes) -> OCSPQuery:
    """Parse a DER OCSPRequest; MalformedRequest for anything but one readable CertID."""
    if not der:
        raise MalformedRequest("the request is empty")
    if len(der) > MAX_REQUEST_BYTES:
        raise MalformedRequest(f"the request is over {MAX_REQUEST_BYTES} bytes")
    try:
        request = ocsp.load_der_ocsp_request(der)
    except NotImplementedError:
        raise MalformedRequest(
            "the request asks about several certificates: send one request per certificate "
            "(RFC 5019 2.1.1)"
        ) from None
    except ValueError:
        raise MalformedRequest("the request is not a DER OCSP request") from None
    try:
        algorithm = _NAME_OF_HASH.get(type(request.hash_algorithm))
        extensions = request.extensions
        serial = request.serial_number
        name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
    except (ValueError, UnsupportedAlgorithm):
        raise MalformedRequest("the request's CertID or extensions cannot be read") from None
    if algorithm is None:
        raise MalformedRequest("the CertID's hash algorithm is not SHA-1 or SHA-2")
    nonce = None
    for extension in extensions:
        if isinstance(extension.value, x509.OCSPNonce):
            nonce = extension.value.nonce
            if not NONCE_MIN_BYTES <= len(nonce) <= NONCE_MAX_BYTES:
                raise MalformedRequest(
                    f"the nonce is {len(nonce)} bytes long; RFC 8954 allows "
                    f"{NONCE_MIN_BYTES} to {NONCE_MAX_BYTES}"
                )
        elif extension.critical:
            raise MalformedRequest(f"the request has an unknown critical extension "
                                   f"{extension.oid.dotted_string}")
    return OCSPQuery(algorithm, name_hash, key_hash, serial, nonce)


@dataclass(frozen=True, slots=True)
class IssuerHashes:
    """A CA's CertID parts (issuerNameHash, issuerKeyHash) for every answered algorithm."""

    by_algorithm: dict[str, tuple[bytes, bytes]]

    def matches(self, query: OCSPQuery) -> bool:
        """Whether the query's CertID names this CA as the issuer."""
        found = self.by_algorithm.get(query.hash_algorithm)
        return found == (query.issuer_name_hash, query.issuer_key_hash)


def issuer_hashes(ca_certificate: x509.Certificate) -> IssuerHashes:
    """The CertID issuer parts of a CA certificate, for each answered hash algorithm."""
    name_der = ca_certificate.subject.public_bytes()
    found = {}
    for name, algorithm in HASH_ALGORITHMS.items():
        # The key hash is over the subjectPublicKey BIT STRING's value: let cryptography's
        # request builder compute it rather than parsing the SPKI by hand.
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(ca_certificate, ca_certificate, algorithm)
            .build()
        )
        name_hash = hashlib.new(algorithm.name, name_der).digest()
        found[name] = (name_hash, request.issuer_key_hash)
    return IssuerHashes(found)


class ResponseSigner:
    """What signs responses for one CA: a delegated responder's key, or the CA's own."""

    def __init__(self, certificate: x509.Certificate, sign, *, include_certificate: bool):
        self.certificate = certificate  # the responder's certificate (the CA's in CA mode)
        self._sign = sign
        self.include_certificate = include_certificate

    @classmethod
    def delegated(cls, certificate: x509.Certificate, private_key) -> "ResponseSigner":
        """A responder certificate and its key; the certificate goes into each response."""
        digest = signature_hash_for(private_key)
        return cls(certificate, lambda builder: builder.sign(private_key, digest),
                   include_certificate=True)

    @classmethod
    def by_ca(cls, ca_signer) -> "ResponseSigner":
        """The CA key itself (a CASigner), as the responder."""
        return cls(ca_signer.certificate, ca_signer.sign_ocsp, include_certificate=False)

    def sign(self, builder: ocsp.OCSPResponseBuilder) -> ocsp.OCSPResponse:
        """Sign a response builder (responder id and certificates already set)."""
        return self._sign(builder)


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    """What the responder knows about one serial: good, revoked (when, why) or unknown."""

    status: str
    revoked_at: datetime | None = None
    reason: str | None = None  # a canonical name from revocation.REASONS


def validity(now: datetime, seconds: int) -> tuple[datetime, datetime]:
    """The thisUpdate and nextUpdate of a response signed now and valid for `seconds`."""
    now = now.astimezone(UTC).replace(microsecond=0)
    return now - _BACKDATE, now + timedelta(seconds=seconds)


def build_response(
    signer: ResponseSigner,
    *,
    issuer_name_hash: bytes,
    issuer_key_hash: bytes,
    serial: int,
    hash_algorithm: str,
    status: CertificateStatus,
    this_update: datetime,
    next_update: datetime,
    nonce: bytes | None = None,
) -> bytes:
    """A signed, successful BasicOCSPResponse for one CertID, as DER."""
    if next_update <= this_update:
        raise ValueError("nextUpdate must be after thisUpdate")
    revoked = status.status == REVOKED
    reason = None
    if revoked and status.reason not in (None, "unspecified"):
        reason = REASONS[status.reason]  # as on the CRL: unspecified is left out
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=issuer_name_hash,
        issuer_key_hash=issuer_key_hash,
        serial_number=serial,
        algorithm=HASH_ALGORITHMS[hash_algorithm],
        cert_status=_STATUS[status.status],
        this_update=_naive(this_update),
        next_update=_naive(next_update),
        revocation_time=_naive(status.revoked_at) if revoked else None,
        revocation_reason=reason,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, signer.certificate)
    if signer.include_certificate:
        builder = builder.certificates([signer.certificate])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return signer.sign(builder).public_bytes(serialization.Encoding.DER)


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


@lru_cache(maxsize=8)
def unsuccessful(status: str) -> bytes:
    """An unsigned error response: malformedRequest, internalError, tryLater or unauthorized."""
    value = {
        "malformedRequest": ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
        "internalError": ocsp.OCSPResponseStatus.INTERNAL_ERROR,
        "tryLater": ocsp.OCSPResponseStatus.TRY_LATER,
        "unauthorized": ocsp.OCSPResponseStatus.UNAUTHORIZED,
    }[status]
    return ocsp.OCSPResponseBuilder.build_unsuccessful(value).public_bytes(
        serialization.Encoding.DER
    )


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """What the HTTP cache headers are computed from: the response's own times."""

    produced_at: datetime
    this_update: datetime
    next_update: datetime | None


def response_times(der: bytes) -> ResponseTimes:
    """producedAt, thisUpdate and nextUpdate of a successful response (aware UTC)."""
    response = ocsp.load_der_ocsp_response(der)
    return ResponseTimes(response.produced_at_utc, response.this_update_utc,
                         response.next_update_utc)
