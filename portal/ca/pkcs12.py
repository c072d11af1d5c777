"""Packaging a generated key with its certificate: PKCS#12 for people, encrypted PEM for servers."""

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ..errors import PolicyViolation

COMPATIBLE = "compatible"  # 3DES + SHA-1 MAC: macOS Keychain, iOS, Android, older Windows and Java
MODERN = "modern"  # AES-256-CBC with PBKDF2/SHA-256 and a SHA-256 MAC: OpenSSL 3, NSS, Windows 10+
COMPATIBILITIES = (COMPATIBLE, MODERN)

# Key-derivation rounds for both choices. The .p12 password protects a key that leaves the
# CA, so it is worth a few tens of milliseconds per file; every importer handles this count.
KDF_ROUNDS = 50_000
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


def check_bundle_password(password: str) -> bytes:
    """Refuse an empty, short or oversize password; return it as UTF-8 bytes.

    Empty passwords behave differently across Apple platforms and protect nothing.
    """
    if not password:
        raise PolicyViolation("a password is required to protect the key", field="password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PolicyViolation(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            field="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PolicyViolation("the password is too long", field="password")
    return password.encode("utf-8")


def pkcs12_encryption(
    password: bytes, compatibility: str
) -> serialization.KeySerializationEncryption:
    """The PKCS#12 encryption for a compatibility choice; never RC2 (OpenSSL 3 needs -legacy)."""
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(KDF_ROUNDS)
    if compatibility == COMPATIBLE:
        builder = builder.key_cert_algorithm(
            pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC
        ).hmac_hash(hashes.SHA1())
    elif compatibility == MODERN:
        builder = builder.key_cert_algorithm(
            pkcs12.PBES.PBESv2SHA256AndAES256CBC
        ).hmac_hash(hashes.SHA256())
    else:
        raise PolicyViolation(
            f"unknown compatibility {compatibility!r}; choose {' or '.join(COMPATIBILITIES)}",
            field="compatibility",
        )
    return builder.build(password)


def build_pkcs12(
    private_key,
    certificate: x509.Certificate,
    chain: list[x509.Certificate],
    *,
    password: bytes,
    compatibility: str,
    friendly_name: str | None = None,
) -> bytes:
    """A password-protected PKCS#12 file holding the key, its certificate and the CA chain."""
    if not password:
        raise PolicyViolation("a password is required to protect the key", field="password")
    name = (friendly_name or "").encode("utf-8")[:64] or None
    return pkcs12.serialize_key_and_certificates(
        name, private_key, certificate, chain or None, pkcs12_encryption(password, compatibility)
    )


def build_encrypted_pem(
    private_key, certificate: x509.Certificate, chain: list[x509.Certificate], *, password: bytes
) -> bytes:
    """The key as encrypted PKCS#8 PEM, then the certificate and the CA chain as PEM."""
    if not password:
        raise PolicyViolation("a password is required to protect the key", field="password")
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    certificates = [certificate, *chain]
    return key_pem + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
