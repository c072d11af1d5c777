"""Typed errors with a message fit to show a user, raised by the CA core and the services."""


class PortalError(Exception):
    """Base of every error the portal reports to a user instead of crashing."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field  # the form field or CLI option the error concerns, if any


class InvalidInput(PortalError):
    """Input that cannot be parsed: malformed PEM, garbage bytes, an empty file."""


class PolicyViolation(PortalError):
    """Well-formed input that the CA refuses: a weak key, a name the profile forbids."""


class NotFound(PortalError):
    """A CA, certificate or user that does not exist (or that the caller may not see)."""

    status_code = 404


class Conflict(PortalError):
    """The request clashes with the current state: a duplicate name, an already revoked serial."""

    status_code = 409


class CAKeyUnavailable(PortalError):
    """The CA key cannot be decrypted: the CA secret is missing or wrong. Nothing can be signed."""

    status_code = 503


class ClientCertificateMissing(PortalError):
    """A protected area was reached without a client certificate."""

    status_code = 401


class ClientCertificateRefused(PortalError):
    """A client certificate was presented but is not good for this portal."""

    status_code = 403


class ConfigurationError(PortalError):
    """A setting that cannot work: the app refuses to start rather than fail on requests."""


class CAUnusable(PortalError):
    """The CA's certificate, or one above it, is revoked or expired: the CA signs nothing."""

    status_code = 409
