"""ACME problem documents (RFC 8555 §6.7): one typed error, its type and HTTP status."""

from ..errors import PortalError

ERROR_PREFIX = "urn:ietf:params:acme:error:"

# The status each problem type is answered with, unless the raiser says otherwise.
STATUSES = {
    "accountDoesNotExist": 400,
    "alreadyRevoked": 400,
    "badCSR": 400,
    "badNonce": 400,
    "badPublicKey": 400,
    "badRevocationReason": 400,
    "badSignatureAlgorithm": 400,
    "caa": 403,
    "connection": 400,
    "dns": 400,
    "externalAccountRequired": 400,
    "incorrectResponse": 400,
    "invalidContact": 400,
    "malformed": 400,
    "orderNotReady": 403,
    "rateLimited": 429,
    "rejectedIdentifier": 400,
    "serverInternal": 500,
    "tls": 400,
    "unauthorized": 403,
    "unsupportedContact": 400,
    "unsupportedIdentifier": 400,
    "userActionRequired": 403,
}


class AcmeProblem(PortalError):
    """A refusal answered as application/problem+json with an RFC 8555 error type."""

    def __init__(self, kind: str, detail: str, *, status: int | None = None,
                 identifier: dict | None = None, extra: dict | None = None):
        if kind not in STATUSES:
            raise ValueError(f"unknown ACME problem type {kind!r}")
        super().__init__(detail)
        self.kind = kind
        self.status_code = status or STATUSES[kind]
        self.identifier = identifier
        self.extra = extra or {}
        self.location: str | None = None  # e.g. the existing account on a key conflict

    def document(self) -> dict:
        """The problem document as JSON-ready values."""
        body = {"type": ERROR_PREFIX + self.kind, "detail": self.message,
                "status": self.status_code}
        if self.identifier:
            body["identifier"] = self.identifier
        body.update(self.extra)
        return body


def not_found(what: str) -> AcmeProblem:
    """A resource that does not exist or is not the caller's: 404, malformed."""
    return AcmeProblem("malformed", f"no such {what}", status=404)
