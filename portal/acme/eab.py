"""External account binding (RFC 8555 §7.3.4): the HMAC keys at rest, and the binding check.

The HMAC key is sealed like a CA key (AES-256-GCM under a key derived from the CA secret, with
its own HKDF label), bound to its key id so that a sealed value cannot be moved to another.
"""

import json
import os

import josepy as jose
from acme import jws as acme_jws
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import CAKeyUnavailable
from ..translatable import N_
from .jws import AccountKey, account_key
from .problems import AcmeProblem

_MAGIC = b"portal-acme-eab-v1:"
_ALGORITHMS = ("HS256", "HS384", "HS512")


def _wrapping_key(secret: str) -> bytes:
    if not secret or len(secret.strip()) < 16:
        raise CAKeyUnavailable(N_("the CA secret is not configured: EAB keys cannot be used"))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"portal ACME EAB HMAC key v1").derive(secret.strip().encode())


def seal_hmac_key(hmac_key: bytes, secret: str, *, key_id: str) -> bytes:
    """Encrypt an HMAC key for storage."""
    nonce = os.urandom(12)
    return _MAGIC + nonce + AESGCM(_wrapping_key(secret)).encrypt(nonce, hmac_key,
                                                                  key_id.encode())


def unseal_hmac_key(sealed: bytes, secret: str, *, key_id: str) -> bytes:
    """Decrypt an HMAC key sealed by seal_hmac_key."""
    if not sealed.startswith(_MAGIC):
        raise CAKeyUnavailable(N_("the stored EAB key is not in a format this portal knows"))
    body = sealed[len(_MAGIC):]
    try:
        return AESGCM(_wrapping_key(secret)).decrypt(body[:12], body[12:], key_id.encode())
    except InvalidTag:
        raise CAKeyUnavailable(N_("the CA secret does not decrypt the EAB key")) from None


def binding_key_id(binding) -> str:
    """The kid of an externalAccountBinding JWS (not yet verified)."""
    try:
        parsed = acme_jws.JWS.from_json(binding)
        header = parsed.signature.combined
    except (jose.DeserializationError, ValueError, TypeError, AttributeError, KeyError):
        raise AcmeProblem("malformed", "the externalAccountBinding is not a flattened JWS") \
            from None
    if not isinstance(header.kid, str) or not header.kid:
        raise AcmeProblem("malformed", "the externalAccountBinding has no kid")
    return header.kid


def check_binding(binding, hmac_key: bytes, *, url: str, account: AccountKey) -> None:
    """The binding is MACed with `hmac_key`, for `url`, over the account's own key."""
    if not isinstance(binding, dict) or set(binding) != {"protected", "payload", "signature"}:
        raise AcmeProblem("malformed", "the externalAccountBinding must be a flattened JWS")
    parsed = acme_jws.JWS.from_json(binding)
    header = parsed.signature.combined
    alg = header.alg.name if header.alg is not None else None
    if alg not in _ALGORITHMS or header.nonce is not None:
        raise AcmeProblem("malformed", "the externalAccountBinding must use HS256, HS384 or "
                          "HS512 and carry no nonce")
    if header.url != url:
        raise AcmeProblem("unauthorized", "the externalAccountBinding url is not newAccount's")
    if not parsed.verify(jose.JWKOct(key=hmac_key)):
        raise AcmeProblem("unauthorized", "the externalAccountBinding MAC does not verify")
    try:
        bound = account_key(json.loads(parsed.payload))
    except (ValueError, UnicodeDecodeError):
        raise AcmeProblem("malformed", "the externalAccountBinding payload is not a JWK") \
            from None
    if bound.thumbprint != account.thumbprint:
        raise AcmeProblem("unauthorized", "the externalAccountBinding binds another key")
