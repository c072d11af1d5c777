"""Revocation reasons, as people type them and as CRLs encode them."""

from cryptography import x509

from ..errors import InvalidInput
from ..translatable import N_

# RFC 5280 reason names (as openssl spells them). certificateHold is left out on purpose:
# a held certificate is neither valid nor revoked, and removeFromCRL belongs to delta CRLs.
REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "CACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}
_LOOKUP = {name.lower(): name for name in REASONS} | {
    flag.value.lower(): name for name, flag in REASONS.items()
}
_LOOKUP.update({name.lower().replace("_", ""): name for name in REASONS})


def parse_reason(text: str | None) -> str:
    """Accept a reason as `keyCompromise`, `key_compromise` or `keycompromise`; canonical name."""
    if not text:
        return "unspecified"
    key = text.strip().lower()
    name = _LOOKUP.get(key) or _LOOKUP.get(key.replace("_", "").replace("-", ""))
    if name is None:
        raise InvalidInput(
            N_("unknown revocation reason %(text)r; choose one of %(values)s"),
            field="reason",
            text=text[:40], values=', '.join(REASONS),
        )
    return name


def reason_flag(name: str) -> x509.ReasonFlags:
    """The CRL reason flag for a canonical reason name."""
    return REASONS[name]
