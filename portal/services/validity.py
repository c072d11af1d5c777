"""The validity a certificate will be signed with, and why it is not what was asked for.

Issuance takes the requested days (or the profile's default), caps them at `PORTAL_MAX_DAYS`
and never runs past the issuing CA's own notAfter. The preview page, `portal cert issue` and
the API's answer say which of those applied, so a cap is never silent.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app

from ..ca.profiles import get_profile
from ..translatable import N_, Message
from .authorities import get_ca
from .issuance import validity_days


@dataclass(frozen=True)
class PlannedValidity:
    """The validity that will be signed: days, end, and the reason when not as requested."""

    requested_days: int | None
    days: int  # whole days from now to not_after
    not_after: datetime
    reason: str | None  # None: exactly what was requested
    capped: bool  # shorter than requested (or than the default): the maximum or the CA's end

    def describe(self) -> str:
        """One line: "825 days, until 2029-03-06 (capped: ...)"."""
        text = f"{self.days} days, until {self.not_after:%Y-%m-%d %H:%M} UTC"
        return f"{text} ({self.reason})" if self.reason else text

    def as_json(self) -> dict:
        """The API's `validity` object."""
        return {"requested_days": self.requested_days, "days": self.days,
                "capped": self.capped, "note": self.reason}


def plan_validity(
    profile_name: str, days: int | None, *, ca_name: str | None = None,
    now: datetime | None = None,
) -> PlannedValidity:
    """What issuing under this profile and CA with `days` requested would sign, and why."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    config = current_app.config
    profile = get_profile(profile_name)
    maximum = config["PORTAL_MAX_DAYS"]
    default = config[f"PORTAL_{profile.name.upper()}_DAYS"]
    signed_days = validity_days(profile, days)
    not_after = now + timedelta(days=signed_days)
    reasons, capped = [], False
    if days is None:
        reasons.append(Message(N_("the %(profile)s profile's default"), profile=profile.name))
        if default > maximum:
            capped = True
            reasons.append(Message(N_("capped at the maximum of %(maximum)s days "
                                      "(PORTAL_MAX_DAYS)"), maximum=maximum))
    elif days > maximum:
        capped = True
        reasons.append(Message(N_("%(days)s days requested, capped at the maximum of "
                                  "%(maximum)s days (PORTAL_MAX_DAYS)"),
                               days=days, maximum=maximum))
    ca = get_ca(ca_name)
    ca_end = ca.not_after if ca.not_after.tzinfo else ca.not_after.replace(tzinfo=UTC)
    if not_after > ca_end:
        not_after, capped = ca_end, True
        reasons.append(Message(N_("shortened to end with the certificate of the issuing CA "
                                  "%(name)s, on %(date)s"), name=ca.name,
                               date=f"{ca_end:%Y-%m-%d}"))
    whole_days = max(0, (not_after - now) // timedelta(days=1))
    return PlannedValidity(
        requested_days=days, days=whole_days, not_after=not_after,
        reason=Message.join("; ", reasons) if reasons else None, capped=capped,
    )
