"""CA private keys at rest: sealed with a secret kept outside the database."""

import base64
import os
import secrets

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import CAKeyUnavailable, InvalidInput
from ..translatable import N_

_MAGIC = b"portal-ca-key-v1:"
_NONCE_BYTES = 12


def new_secret() -> str:
    """A fresh CA secret: 256 random bits, URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _wrapping_key(secret: str) -> bytes:
    if len(secret.strip()) < 16:
        raise CAKeyUnavailable(N_("the CA secret is too short (at least 16 characters)"))
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal CA key wrapping v1"
    ).derive(secret.strip().encode())


def seal_private_key(private_key, secret: str, *, bound_to: bytes) -> bytes:
    """Encrypt a private key (AES-256-GCM), bound to its certificate so it cannot be swapped."""
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    nonce = os.urandom(_NONCE_BYTES)
    return _MAGIC + nonce + AESGCM(_wrapping_key(secret)).encrypt(nonce, der, bound_to)


def unseal_private_key(sealed: bytes, secret: str | None, *, bound_to: bytes):
    """Decrypt a key sealed by seal_private_key; CAKeyUnavailable without the right secret."""
    if not secret:
        raise CAKeyUnavailable(
            N_("the CA secret is not configured (instance/ca-secret or PORTAL_CA_SECRET): the "
               "portal cannot sign")
        )
    if not sealed.startswith(_MAGIC):
        raise CAKeyUnavailable(N_("the stored CA key is not in a format this portal knows"))
    body = sealed[len(_MAGIC):]
    nonce, ciphertext = body[:_NONCE_BYTES], body[_NONCE_BYTES:]
    try:
        der = AESGCM(_wrapping_key(secret)).decrypt(nonce, ciphertext, bound_to)
    except InvalidTag:
        raise CAKeyUnavailable(
            N_("the CA secret does not decrypt the CA key (wrong instance/ca-secret or "
               "PORTAL_CA_SECRET): the portal cannot sign")
        ) from None
    return serialization.load_der_private_key(der, password=None)


def load_private_key_file(data: bytes, password: bytes | None = None):
    """Load a private key given by a user (PEM or DER, optionally encrypted)."""
    if not data or not data.strip():
        raise InvalidInput(N_("the key file is empty"), field="key")
    if data.lstrip().startswith(b"-----"):
        loader = serialization.load_pem_private_key
    else:
        loader = serialization.load_der_private_key
    try:
        return loader(data, password=password or None)
    except TypeError as exc:
        if "not encrypted" in str(exc):
            problem = N_("the key is not encrypted: leave out its password")
        else:
            problem = N_("the key is encrypted: give its password")
        raise InvalidInput(problem, field="key_password") from None
    except ValueError as exc:
        # A wrong password usually fails the padding check ("bad decrypt"), but about once in
        # 256 tries the padding happens to look right and the garbage fails to parse instead.
        if "password" in str(exc).lower() or (password and _is_encrypted(loader, data)):
            raise InvalidInput(N_("wrong password for the key"), field="key_password") from None
    except UnsupportedAlgorithm:
        pass
    raise InvalidInput(
        N_("not a private key in PEM or DER (or of a type this portal does not support)"),
        field="key",
    )


def _is_encrypted(loader, data: bytes) -> bool:
    """Whether a key file is encrypted (the loader asks for a password)."""
    try:
        loader(data, password=None)
    except TypeError:
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return False
