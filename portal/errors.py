"""Typed errors with a message fit to show a user, raised by the CA core and the services.

Each message is a msgid (marked with `N_` from portal/translatable.py) with named
placeholders given as keyword arguments: `.message` is the English sentence, `.msgid` and
`.params` let the web layer show it in the reader's language (portal/web/i18n.py).
They say what went wrong, not how to answer it: the web layer maps each kind to an HTTP status
(portal/web/errors.py), the CLI prints the message as one line.
"""


class PortalError(Exception):
    """Base of every error the portal reports to a user instead of crashing."""

    def __init__(self, message: str, *, field: str | None = None, **params):
        text = message % params if params else message
        super().__init__(text)
        self.message = text  # in English: what the CLI and the logs print
        self.msgid = message  # untranslated, with %(name)s placeholders (marked with N_)
        self.params = params  # the placeholders' values; a PortalError among them is nested
        self.field = field  # the form field or CLI option the error concerns, if any


class InvalidInput(PortalError):
    """Input that cannot be parsed: malformed PEM, garbage bytes, an empty file."""


class PolicyViolation(PortalError):
    """Well-formed input that the CA refuses: a weak key, a name the profile forbids."""


class NotFound(PortalError):
    """A CA, certificate or user that does not exist (or that the caller may not see)."""


class NotPermitted(PortalError):
    """The caller is known but may not do this (an admin may)."""


class Conflict(PortalError):
    """The request clashes with the current state: a duplicate name, an already revoked serial."""


class Gone(PortalError):
    """Something that existed and can no longer be used: a used link, an expired approval."""


class Unavailable(PortalError):
    """A service the portal needs does not answer (a mail server): try again later."""


class CAKeyUnavailable(PortalError):
    """The CA key cannot be decrypted: the CA secret is missing or wrong. Nothing can be signed."""


class ClientCertificateMissing(PortalError):
    """A protected area was reached without a client certificate."""


class ClientCertificateRefused(PortalError):
    """A client certificate was presented but is not good for this portal."""


class ConfigurationError(PortalError):
    """A setting that cannot work: the app refuses to start rather than fail on requests."""


class CAUnusable(PortalError):
    """The CA's certificate, or one above it, is revoked or expired: the CA signs nothing."""
