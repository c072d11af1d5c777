"""Packaging a generated key with its certificate: PKCS#12 for people, encrypted PEM for servers."""

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ..errors import PolicyViolation
from ..translatable import N_

COMPATIBLE = "compatible"  # 3DES + SHA-1 MAC: macOS Keychain, iOS, Android, older Windows and Java
MODERN = "modern"  # AES-256-CBC with PBKDF2/SHA-256 and a SHA-256 MAC: OpenSSL 3, NSS, Windows 10+
COMPATIBILITIES = (COMPATIBLE, MODERN)

# Key-derivation rounds for the key and certificate bags, both choices: OpenSSL 3, NSS
# (pk12util), GnuTLS (certtool) and Java 17 (keytool) import them (tests/ca/test_p12_compat.py).
KDF_ROUNDS = 50_000
# The integrity MAC's iteration count. cryptography fixes it at 2048 (OpenSSL's own default for
# `openssl pkcs12 -export`) and offers no way to change it; tests/ca/test_p12_compat.py fails if
# that changes. A password guess can be checked against the MAC at this cost, so the 50,000
# rounds above do not slow an offline guesser: the password's length is what protects the key.
MAC_ITERATIONS = 2048
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


# Key types whose .p12 the *compatible* choice's platforms cannot import: NSS (Firefox,
# pk12util), macOS Keychain, iOS, Android and Windows have no Ed25519 keys in PKCS#12.
NOT_COMPATIBLE_KEY_TYPES = ("ed25519",)


def check_bundle_password(password: str, compatibility: str | None = None) -> bytes:
    """Refuse an empty, short, oversize or unusable password; return it as UTF-8 bytes.

    Empty passwords behave differently across Apple platforms and protect nothing; a NUL or
    another control character makes a file that no importer opens (PKCS#12 ends the password
    at NUL); Java's keytool opens no .p12 whose password is not ASCII, so *compatible*, which
    promises Java, refuses those.
    """
    if not password:
        raise PolicyViolation(N_("a password is required to protect the key"), field="password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PolicyViolation(
            N_("the password must have at least %(min_password_length)s characters"),
            field="password",
            min_password_length=MIN_PASSWORD_LENGTH,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PolicyViolation(N_("the password is too long"), field="password")
    if any(ord(character) < 0x20 or 0x7F <= ord(character) < 0xA0 for character in password):
        raise PolicyViolation(
            N_("the password may not contain a NUL byte, a line break or another control "
               "character"),
            field="password",
        )
    if compatibility == COMPATIBLE and not password.isascii():
        raise PolicyViolation(
            N_("a compatible .p12 needs a password of ASCII letters, digits and punctuation "
               "only: Java (keytool) cannot open it otherwise; choose modern to keep this "
               "password"),
            field="password",
        )
    return password.encode("utf-8")


def check_bundle_key_type(key_type: str, compatibility: str) -> None:
    """Refuse a key type that the compatibility choice's target platforms cannot import."""
    if compatibility == COMPATIBLE and key_type in NOT_COMPATIBLE_KEY_TYPES:
        raise PolicyViolation(
            N_("a compatible .p12 cannot hold an %(key_type)s key: Firefox (NSS), macOS "
               "Keychain, iOS, Android and Windows do not import it; choose modern, or an EC "
               "or RSA key"),
            field="compatibility",
            key_type=key_type,
        )


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
            N_("unknown compatibility %(compatibility)r; choose %(values)s"),
            field="compatibility",
            compatibility=compatibility, values=' or '.join(COMPATIBILITIES),
        )
    return builder.build(password)


def check_bundle_options(password: str, compatibility: str, key_type: str) -> bytes:
    """Check everything a .p12 needs before a key is generated or a link used; the password."""
    secret = check_bundle_password(password, compatibility)
    pkcs12_encryption(secret, compatibility)  # an unknown choice
    check_bundle_key_type(key_type, compatibility)
    return secret


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
        raise PolicyViolation(N_("a password is required to protect the key"), field="password")
    name = (friendly_name or "").encode("utf-8")[:64] or None
    return pkcs12.serialize_key_and_certificates(
        name, private_key, certificate, chain or None, pkcs12_encryption(password, compatibility)
    )


def build_encrypted_pem(
    private_key, certificate: x509.Certificate, chain: list[x509.Certificate], *, password: bytes
) -> bytes:
    """The key as encrypted PKCS#8 PEM, then the certificate and the CA chain as PEM."""
    if not password:
        raise PolicyViolation(N_("a password is required to protect the key"), field="password")
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    certificates = [certificate, *chain]
    return key_pem + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
