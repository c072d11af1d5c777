"""Ed25519 account keys (RFC 8037, kty OKP), which josepy does not know: jwcrypto parses them."""

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto.common import JWException

from .problems import AcmeProblem


def public_members(jwk: dict) -> dict:
    """The public members of an OKP JWK."""
    return {"kty": "OKP", "crv": jwk.get("crv"), "x": jwk.get("x")}


def load(jwk: dict) -> tuple[ed25519.Ed25519PublicKey, str]:
    """The Ed25519 public key of an OKP JWK and its RFC 7638 thumbprint (base64url)."""
    if "d" in jwk:
        raise AcmeProblem("badPublicKey", "the jwk must be a public key")
    if jwk.get("crv") != "Ed25519":
        raise AcmeProblem("badPublicKey", "OKP account keys must be Ed25519")
    try:
        key = jwcrypto_jwk.JWK(**public_members(jwk))
        public_key = key.get_op_key("verify")
    except (JWException, ValueError, TypeError) as exc:
        raise AcmeProblem("badPublicKey", f"the jwk is not a usable Ed25519 key ({exc})") from None
    return public_key, key.thumbprint()


def verify(public_key: ed25519.Ed25519PublicKey, signing_input: bytes, signature: bytes) -> bool:
    """Whether `signature` is the key's EdDSA signature of the JWS signing input."""
    try:
        public_key.verify(signature, signing_input)
    except InvalidSignature:
        return False
    return True
