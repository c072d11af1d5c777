"""Key generation, key naming and the key policy for requests and CAs."""

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from ..errors import InvalidInput, PolicyViolation
from ..translatable import N_

KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519")
DEFAULT_KEY_TYPE = "ec-p256"
# What refuses Ed25519, measured (README "What imports where"): said wherever a key type is
# chosen.
ED25519_LIMITS = N_(
    "Ed25519: not imported by Firefox/NSS, macOS, iOS, Android or Windows, never offered by "
    "browsers as a client certificate, refused in a CA chain by cryptography's verifier, and "
    "only in a modern .p12; OpenSSL, GnuTLS and Java 17 accept it."
)

_CURVES = {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}

PrivateKey = (
    ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
)
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def generate_private_key(key_type: str = DEFAULT_KEY_TYPE) -> PrivateKey:
    """Generate a new private key of one of KEY_TYPES."""
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type in ("rsa-2048", "rsa-3072", "rsa-4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise InvalidInput(
        N_("unknown key type %(key_type)r; choose one of %(values)s"), field="key_type",
        key_type=key_type, values=', '.join(KEY_TYPES)
    )


def key_type_of(public_key) -> str:
    """Name a public key the way KEY_TYPES does (rsa-<bits>, ec-<curve>, ed25519)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"rsa-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return _CURVES.get(public_key.curve.name, f"ec-{public_key.curve.name}")
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "ed448"
    if isinstance(public_key, dsa.DSAPublicKey):
        return f"dsa-{public_key.key_size}"
    return type(public_key).__name__


def check_key_policy(public_key) -> str:
    """Accept RSA >= 2048 bits, EC P-256/P-384/P-521 and Ed25519; return the key type."""
    key_type = key_type_of(public_key)
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise PolicyViolation(
                N_("RSA key of %(key_size)s bits is too weak: at least 2048 bits are required"),
                field="csr",
                key_size=public_key.key_size,
            )
        if public_key.key_size > 8192:
            raise PolicyViolation(N_("RSA keys over 8192 bits are not accepted"), field="csr")
        if public_key.public_numbers().e != 65537:
            raise PolicyViolation(N_("RSA keys must use the public exponent 65537"), field="csr")
        return key_type
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _CURVES:
            raise PolicyViolation(
                N_("EC curve %(name)s is not accepted: use P-256, P-384 or P-521"),
                field="csr",
                name=public_key.curve.name,
            )
        return key_type
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return key_type
    raise PolicyViolation(
        N_("%(key_type)s keys are not accepted: use RSA (2048 bits or more), EC "
           "P-256/P-384/P-521 or Ed25519"),
        field="csr",
        key_type=key_type,
    )


def signature_hash_for(key) -> hashes.HashAlgorithm | None:
    """The hash a CA with this key signs with (None for Ed25519, which hashes internally)."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.key_size >= 521:
            return hashes.SHA512()
        if key.curve.key_size >= 384:
            return hashes.SHA384()
    return hashes.SHA256()


def public_keys_match(private_key, public_key) -> bool:
    """True when the private key is the other half of the public key."""
    return private_key.public_key() == public_key
