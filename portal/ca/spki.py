"""The exact SubjectPublicKeyInfo bytes a CSR or certificate carries, read from its DER.

cryptography hands out public keys as objects and re-encodes them on the way back to bytes
(an RSA-PSS key comes back as rsaEncryption), so "the certificate carries the CSR's key" is
checked on the DER itself: the SPKI is a fixed child of CertificationRequestInfo (RFC 2986)
and of TBSCertificate (RFC 5280).
"""

from cryptography import x509

from ..errors import PortalError

_CONTEXT_0 = 0xA0  # TBSCertificate's explicit [0] version


def _children(der: bytes) -> list[bytes]:
    """The complete TLVs inside one DER SEQUENCE (definite lengths only, as DER requires)."""
    if not der or der[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    body_start, body_length = _header(der, 0)
    end = body_start + body_length
    if end != len(der):
        raise ValueError("trailing bytes after the SEQUENCE")
    children, offset = [], body_start
    while offset < end:
        start, length = _header(der, offset)
        children.append(der[offset:start + length])
        offset = start + length
    if offset != end:
        raise ValueError("a child runs past its SEQUENCE")
    return children


def _header(der: bytes, offset: int) -> tuple[int, int]:
    """Where the content of the TLV at `offset` starts, and its length."""
    if offset + 2 > len(der) or der[offset] & 0x1F == 0x1F:
        raise ValueError("truncated or high-tag-number TLV")
    first = der[offset + 1]
    if first < 0x80:
        return offset + 2, first
    count = first & 0x7F
    if count == 0 or count > 4 or offset + 2 + count > len(der):
        raise ValueError("bad DER length")
    length = int.from_bytes(der[offset + 2:offset + 2 + count], "big")
    return offset + 2 + count, length


def csr_spki(csr: x509.CertificateSigningRequest) -> bytes:
    """The SubjectPublicKeyInfo DER exactly as the CSR carries it."""
    return _children(csr.tbs_certrequest_bytes)[2]  # version, subject, subjectPKInfo


def certificate_spki(certificate: x509.Certificate) -> bytes:
    """The SubjectPublicKeyInfo DER exactly as the certificate carries it."""
    fields = _children(certificate.tbs_certificate_bytes)
    if fields[0][0] == _CONTEXT_0:
        fields = fields[1:]
    return fields[5]  # serial, signature, issuer, validity, subject, subjectPublicKeyInfo


def check_same_public_key(certificate: x509.Certificate, expected_spki: bytes) -> None:
    """Refuse to hand out a certificate whose public key is not, byte for byte, the one asked."""
    if certificate_spki(certificate) != expected_spki:
        raise PortalError(
            "internal error: the signed certificate does not carry the requested public key "
            "unchanged; it was not issued"
        )
