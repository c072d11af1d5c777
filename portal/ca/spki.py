"""The exact SubjectPublicKeyInfo bytes a CSR or certificate carries, read from its DER.

cryptography hands out public keys as objects and re-encodes them on the way back to bytes
(an RSA-PSS key comes back as rsaEncryption), so "the certificate carries the CSR's key" is
checked on the DER itself: the SPKI is a fixed child of CertificationRequestInfo (RFC 2986)
and of TBSCertificate (RFC 5280).
"""

from cryptography import x509

from ..errors import PortalError
from ..translatable import N_

_CONTEXT_0 = 0xA0  # TBSCertificate's explicit [0] version


def _field(der: bytes, index: int, *, skip_context_0: bool = False) -> bytes:
    """The complete TLV of the `index`th field inside one DER SEQUENCE (definite lengths).

    `skip_context_0`: an explicit [0] first field (TBSCertificate's version) is not counted.
    Written as one tight loop: it runs on every issuance from a CSR.
    """
    try:
        if der[0] != 0x30:
            raise ValueError("not a DER SEQUENCE")
        offset, end = _span(der, 0)
        if end != len(der):
            raise ValueError("trailing bytes after the SEQUENCE")
        if skip_context_0 and der[offset] == _CONTEXT_0:
            offset = _span(der, offset)[1]
        for _ in range(index):
            offset = _span(der, offset)[1]
        field_end = _span(der, offset)[1]
    except IndexError:
        raise ValueError("truncated DER") from None
    if field_end > end:
        raise ValueError("a field runs past its SEQUENCE")
    return der[offset:field_end]


def _span(der: bytes, offset: int) -> tuple[int, int]:
    """Where the content of the TLV at `offset` starts, and where the TLV ends."""
    if der[offset] & 0x1F == 0x1F:
        raise ValueError("high-tag-number TLV")
    first = der[offset + 1]
    if first < 0x80:
        return offset + 2, offset + 2 + first
    if first == 0x81:
        return offset + 3, offset + 3 + der[offset + 2]
    if first == 0x82:
        return offset + 4, offset + 4 + (der[offset + 2] << 8 | der[offset + 3])
    count = first & 0x7F
    if count == 0 or count > 4 or offset + 2 + count > len(der):
        raise ValueError("bad DER length")
    start = offset + 2 + count
    return start, start + int.from_bytes(der[offset + 2:start], "big")


def csr_spki(csr: x509.CertificateSigningRequest) -> bytes:
    """The SubjectPublicKeyInfo DER exactly as the CSR carries it."""
    return _field(csr.tbs_certrequest_bytes, 2)  # version, subject, subjectPKInfo


def certificate_spki(certificate: x509.Certificate | bytes) -> bytes:
    """The SubjectPublicKeyInfo DER exactly as the certificate (or its DER) carries it."""
    if isinstance(certificate, bytes):
        tbs = _field(certificate, 0)  # Certificate: tbsCertificate, signatureAlgorithm, value
    else:
        tbs = certificate.tbs_certificate_bytes
    # serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    return _field(tbs, 5, skip_context_0=True)


def check_same_public_key(certificate: x509.Certificate | bytes, expected_spki: bytes) -> None:
    """Refuse to hand out a certificate whose public key is not, byte for byte, the one asked.

    Pass the certificate's DER when it is at hand: reading it is cheaper than asking
    cryptography for the TBS bytes again (issuance is the hot path).
    """
    if certificate_spki(certificate) != expected_spki:
        raise PortalError(
            N_("internal error: the signed certificate does not carry the requested public "
               "key unchanged; it was not issued")
        )
