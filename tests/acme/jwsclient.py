"""A lean ACME client for tests and the benchmark: josepy/acme JWS over any transport.

`transport(method, url, body, headers) -> (status, headers, body)`: the Flask test client in
the in-process tests, an HTTPS connection against `portal serve`.
"""

import json

import josepy as jose
from acme import jws as acme_jws
from cryptography.hazmat.primitives.asymmetric import ec, rsa

JOSE = "application/jose+json"


def new_key(kind: str = "ec-p256") -> jose.JWK:
    """A fresh account or certificate key as a josepy JWK."""
    if kind == "rsa":
        return jose.JWKRSA(key=rsa.generate_private_key(65537, 2048))
    curve = ec.SECP384R1() if kind == "ec-p384" else ec.SECP256R1()
    return jose.JWKEC(key=ec.generate_private_key(curve))


def alg_of(key: jose.JWK):
    """The JWS algorithm for a key."""
    if isinstance(key, jose.JWKRSA):
        return jose.RS256
    return jose.ES384 if key.key.curve.name == "secp384r1" else jose.ES256


class Reply:
    """A response: status, headers (lower-case names), body, parsed JSON when it is JSON."""

    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body
        kind = headers.get("content-type", "")
        self.json = json.loads(body) if "json" in kind and body else None

    @property
    def problem(self) -> str | None:
        """The problem type without its prefix, for a problem document."""
        if self.json and "type" in self.json and self.status >= 400:
            return self.json["type"].rsplit(":", 1)[-1]
        return None

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.body[:300]!r}>"


class Client:
    """One account's view of one directory."""

    def __init__(self, transport, directory_url: str, key: jose.JWK | None = None):
        self.transport = transport
        self.directory = self.get(directory_url).json
        self.key = key or new_key()
        self.kid: str | None = None
        self.nonce: str | None = None

    def get(self, url: str) -> Reply:
        """A plain GET."""
        return Reply(*self.transport("GET", url, None, {}))

    def new_nonce(self) -> str:
        """A nonce from newNonce."""
        reply = Reply(*self.transport("HEAD", self.directory["newNonce"], None, {}))
        return reply.headers["replay-nonce"]

    def sign(self, url: str, payload, *, key: jose.JWK | None = None, use_jwk: bool | None = None,
             nonce: str | None = None) -> bytes:
        """The flattened JWS for `payload` (None: POST-as-GET) to `url`."""
        key = key or self.key
        if nonce is None:
            nonce = self.nonce or self.new_nonce()
            self.nonce = None
        data = b"" if payload is None else json.dumps(payload).encode()
        with_jwk = (self.kid is None) if use_jwk is None else use_jwk
        signed = acme_jws.JWS.sign(data, key=key, alg=alg_of(key), nonce=jose.b64decode(nonce),
                                   url=url, kid=None if with_jwk else self.kid)
        return signed.json_dumps().encode()

    def post(self, url: str, payload=None, **options) -> Reply:
        """POST a JWS; keeps the answer's nonce for the next request."""
        body = self.sign(url, payload, **options)
        reply = Reply(*self.transport("POST", url, body, {"Content-Type": JOSE}))
        self.nonce = reply.headers.get("replay-nonce")
        return reply

    def register(self, **payload) -> Reply:
        """newAccount; remembers the kid."""
        reply = self.post(self.directory["newAccount"],
                          {"termsOfServiceAgreed": True, **payload}, use_jwk=True)
        if reply.status in (200, 201):
            self.kid = reply.headers["location"]
        return reply

    def key_authorization(self, token: str) -> str:
        """token.thumbprint for this account's key."""
        return f"{token}.{jose.b64encode(self.key.public_key().thumbprint()).decode()}"


def flask_transport(test_client):
    """A transport over Flask's test client."""
    def send(method, url, body, headers):
        response = test_client.open(url, method=method, data=body, headers=headers)
        names = {k.lower(): v for k, v in response.headers.items()}
        return response.status_code, names, response.get_data()
    return send


def https_transport(cafile: str):
    """A transport over HTTPS (one connection per request), trusting `cafile` only."""
    import http.client
    import ssl
    from urllib.parse import urlsplit

    context = ssl.create_default_context(cafile=cafile)

    def send(method, url, body, headers):
        parts = urlsplit(url)
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, context=context,
                                                 timeout=60)
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            names = {k.lower(): v for k, v in response.getheaders()}
            return response.status, names, data
        finally:
            connection.close()
    return send
