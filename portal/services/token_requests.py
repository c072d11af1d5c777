"""What an API token may ask for: an admin's is issued at once, a user's follows the user's rules.

A user's token may request only the profiles `PORTAL_API_USER_PROFILES` opens, only from the
default CA, and its request goes through the profile's self-service policy exactly as the
user's own pages do (it may wait for an admin).
"""

from dataclasses import dataclass

from flask import current_app

from ..errors import InvalidInput, NotPermitted
from ..models import CertificateRequest
from ..translatable import N_
from . import issuance, selfservice
from .authorities import get_ca


@dataclass(frozen=True)
class TokenRequestOutcome:
    """The certificate issued, or (when the policy waits for an admin) the request recorded."""

    certificate: object | None  # issuance.IssuedCertificate or a Certificate row
    request: CertificateRequest | None = None


def user_profiles() -> list[str]:
    """The profiles a user's (not an admin's) token may request."""
    return current_app.config["PORTAL_API_USER_PROFILES"].replace(",", " ").split()


def request_certificate(
    owner, csr_text: str, profile: str, *, ca_name: str | None, days: int | None, actor: str
) -> TokenRequestOutcome:
    """Issue from a CSR (PEM text) for the token's owner, or record the request under policy."""
    if not owner.is_admin and profile not in user_profiles():
        raise NotPermitted(N_("your account may not request %(profile)r certificates"),
                           field="profile",
            profile=profile[:16])
    try:
        csr_data = csr_text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(N_("'csr' must be PEM text"), field="csr") from None
    if owner.is_admin:
        return TokenRequestOutcome(issuance.issue_from_csr(
            csr_data, profile, ca_name=ca_name, days=days, owner_id=owner.id, actor=actor
        ))
    if ca_name and ca_name != get_ca().name:
        raise NotPermitted(N_("only an admin's token may choose the issuing CA"), field="ca")
    request_row = selfservice.create_request(
        owner, profile_name=profile, method="csr", csr_data=csr_data, days=days, actor=actor,
    )
    issued = request_row.certificate if request_row.certificate_id else None
    return TokenRequestOutcome(issued, request_row)
