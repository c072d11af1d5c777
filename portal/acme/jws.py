"""Request JWS checks (RFC 8555 §6.2): flattened JSON, the algorithms, jwk xor kid, the key.

Parsing and signature checks are josepy's and the `acme` package's (certbot's own); this
module only applies the RFC's rules around them. Ed25519 (EdDSA) keys, which josepy does not
know, go through `okp.py` (jwcrypto).
"""

import json
from dataclasses import dataclass

import josepy as jose
from acme import jws as acme_jws
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from . import okp
from .problems import AcmeProblem

ALGORITHMS = ("ES256", "ES384", "RS256", "EdDSA")
_MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class AccountKey:
    """An account's public key: its JWK (JSON), RFC 7638 thumbprint and cryptography key."""

    jwk: dict
    thumbprint: str
    public_key: object

    @property
    def algorithm(self) -> str:
        """The one JWS algorithm accepted for this key."""
        key = self.public_key
        if isinstance(key, rsa.RSAPublicKey):
            return "RS256"
        if isinstance(key, ed25519.Ed25519PublicKey):
            return "EdDSA"
        if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1":
            return "ES384"
        return "ES256"


@dataclass(frozen=True)
class SignedRequest:
    """A parsed request JWS: protected header values, payload, and what is signed."""

    alg: str
    nonce: str
    url: str
    kid: str | None
    jwk: AccountKey | None
    payload: bytes
    signing_input: bytes
    signature: bytes
    _josepy: object  # the acme.jws.JWS, or None for an EdDSA request

    def payload_json(self) -> dict | None:
        """The payload as a JSON object; None for POST-as-GET (an empty payload)."""
        if self.payload == b"":
            return None
        try:
            value = json.loads(self.payload)
        except (ValueError, UnicodeDecodeError):
            raise AcmeProblem("malformed", "the JWS payload is not JSON") from None
        if not isinstance(value, dict):
            raise AcmeProblem("malformed", "the JWS payload is not a JSON object")
        return value


def account_key(jwk: dict) -> AccountKey:
    """Parse a public JWK (RSA, EC P-256/P-384, or Ed25519); badPublicKey when it is not one."""
    if not isinstance(jwk, dict):
        raise AcmeProblem("malformed", "the jwk is not a JSON object")
    if jwk.get("kty") == "OKP":
        public_key, thumbprint = okp.load(jwk)
        return AccountKey(jwk=okp.public_members(jwk), thumbprint=thumbprint,
                          public_key=public_key)
    if "d" in jwk or "p" in jwk or "k" in jwk:
        raise AcmeProblem("badPublicKey", "the jwk must be a public key")
    try:
        parsed = jose.JWK.from_json(jwk)
    except (jose.DeserializationError, ValueError, TypeError, KeyError) as exc:
        raise AcmeProblem("badPublicKey", f"the jwk is not a usable public key ({exc})") from None
    # josepy hands back its own wrapper of the key: go through its public bytes to a
    # cryptography key (the wrapper's `_wrapped` is private).
    try:
        key = serialization.load_der_public_key(parsed.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    except (ValueError, AttributeError, TypeError):
        raise AcmeProblem("badPublicKey", "the jwk must be a public key") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise AcmeProblem("badPublicKey", "RSA account keys need at least 2048 bits")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1"):
            raise AcmeProblem("badPublicKey", "EC account keys must be on P-256 or P-384")
    else:
        raise AcmeProblem("badPublicKey", "account keys are RSA, EC or Ed25519")
    thumbprint = jose.b64encode(parsed.thumbprint()).decode()
    return AccountKey(jwk=parsed.to_partial_json(), thumbprint=thumbprint, public_key=key)


def parse_request(body: bytes, *, inner: bool = False) -> SignedRequest:
    """Parse a flattened JWS with alg, nonce, url and exactly one of jwk and kid.

    The signature is not checked yet (see `verify`).

    `inner`: keyChange's inner JWS, which has no nonce.
    """
    if len(body) > _MAX_BODY:
        raise AcmeProblem("malformed", "the request body is too large")
    try:
        outer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise AcmeProblem("malformed", "the request body is not JSON") from None
    if not isinstance(outer, dict) or set(outer) != {"protected", "payload", "signature"}:
        raise AcmeProblem(
            "malformed",
            "the request must be a flattened JWS: exactly protected, payload and signature "
            "(no unprotected header, no signatures list)",
        )
    if not all(isinstance(value, str) for value in outer.values()):
        raise AcmeProblem("malformed", "the JWS members must be strings")
    try:
        header = json.loads(jose.b64decode(outer["protected"]))
        payload = jose.b64decode(outer["payload"])
        signature = jose.b64decode(outer["signature"])
    except (ValueError, UnicodeDecodeError, TypeError):
        raise AcmeProblem("malformed", "the JWS is not valid base64url JSON") from None
    if not isinstance(header, dict):
        raise AcmeProblem("malformed", "the protected header is not a JSON object")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise AcmeProblem("badSignatureAlgorithm", f"the algorithm {str(alg)[:20]!r} is not "
                          "accepted", extra={"algorithms": list(ALGORITHMS)})
    if ("jwk" in header) == ("kid" in header):
        raise AcmeProblem("malformed", "the protected header must have exactly one of jwk and kid")
    if inner and "nonce" in header:
        raise AcmeProblem("malformed", "an inner JWS must not have a nonce")
    for name in ("url",) if inner else ("nonce", "url"):
        if not isinstance(header.get(name), str) or not header[name]:
            raise AcmeProblem("badNonce" if name == "nonce" else "malformed",
                              f"the protected header has no {name}")
    jwk = account_key(header["jwk"]) if "jwk" in header else None
    if "kid" in header and not isinstance(header["kid"], str):
        raise AcmeProblem("malformed", "the kid is not a string")
    parsed = None
    if alg != "EdDSA" and (jwk is None or jwk.jwk.get("kty") != "OKP"):
        try:
            parsed = acme_jws.JWS.from_json(outer)
        except (jose.DeserializationError, ValueError, TypeError) as exc:
            raise AcmeProblem("malformed", f"the JWS does not parse ({exc})") from None
    return SignedRequest(
        alg=alg, nonce=header.get("nonce", ""), url=header["url"], kid=header.get("kid"), jwk=jwk,
        payload=payload, signing_input=(outer["protected"] + "." + outer["payload"]).encode(),
        signature=signature, _josepy=parsed,
    )


def verify(request: SignedRequest, key: AccountKey) -> None:
    """Check the signature with `key` and that `alg` is the key's; unauthorized otherwise."""
    if request.alg != key.algorithm:
        raise AcmeProblem("badSignatureAlgorithm",
                          f"a {key.algorithm} key cannot sign with {request.alg}",
                          extra={"algorithms": [key.algorithm]})
    if request.alg == "EdDSA":
        good = okp.verify(key.public_key, request.signing_input, request.signature)
    else:
        try:
            good = request._josepy.verify(_josepy_key(key.public_key))
        except Exception:  # josepy raises several types on a malformed signature
            good = False
    if not good:
        raise AcmeProblem("unauthorized", "the JWS signature does not verify")


def _josepy_key(public_key) -> jose.JWK:
    if isinstance(public_key, rsa.RSAPublicKey):
        return jose.JWKRSA(key=public_key)
    return jose.JWKEC(key=public_key)
