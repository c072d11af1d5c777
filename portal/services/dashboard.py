"""What the dashboard shows: each CA with its CRL, counts by status, expiry ahead, recent events."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import STATUS_ISSUED, AuditEvent, Certificate, CertificateAuthority
from ..translatable import N_, Message
from .authorities import key_usable, list_cas
from .ca_state import ca_states

EXPIRY_HORIZON_DAYS = 90
# A CRL with less than this share of its lifetime left is "close to expiry": it should have
# been re-signed at half of its lifetime, so something is wrong.
CRL_WARNING_SHARE = 0.25


@dataclass(frozen=True)
class CAOverview:
    """One CA as the dashboard shows it."""

    ca: CertificateAuthority
    key_ok: bool
    key_problem: str
    crl_this_update: datetime | None
    crl_next_update: datetime | None
    crl_number: int | None
    crl_problem: str | None  # a sentence for the banner, or None when all is well
    state_problem: str | None = None  # why the CA signs nothing (revoked, expired), or None


def crl_of(ca: CertificateAuthority):
    """The CA's current CRL (number, thisUpdate, nextUpdate), or None before the first one.

    The one hook onto CRL publishing (portal.services.crl): nothing else here knows about it.
    """
    from . import crl

    state = crl.crl_state(ca_id=ca.id)
    if not state.published:
        return None
    return state.number, state.this_update, state.next_update


def _crl_problem(ca: CertificateAuthority, crl, key_ok: bool, now: datetime) -> str | None:
    if crl is None:
        if not key_ok:
            return Message(N_("CA %(name)s has no CRL and its key is unusable: no CRL can be "
                              "signed."), name=ca.name)
        return None  # the first request for the CRL signs it
    _number, this_update, next_update = crl
    if now >= next_update:
        return Message(N_("The CRL of CA %(name)s expired on %(when)s UTC: clients that check "
                          "it (nginx among them) now refuse every certificate."),
                       name=ca.name, when=f"{next_update:%Y-%m-%d %H:%M}")
    left = next_update - now
    if not key_ok:
        return Message(N_("The CRL of CA %(name)s cannot be re-signed (the CA key is unusable); "
                          "it expires on %(when)s UTC."),
                       name=ca.name, when=f"{next_update:%Y-%m-%d %H:%M}")
    if left < (next_update - this_update) * CRL_WARNING_SHARE:
        return Message(N_("The CRL of CA %(name)s expires on %(when)s UTC and was not re-signed "
                          "on time: check `portal crl refresh`."),
                       name=ca.name, when=f"{next_update:%Y-%m-%d %H:%M}")
    return None


def ca_overviews(now: datetime | None = None) -> list[CAOverview]:
    """Every CA with its key state and its CRL's age, next update and problems."""
    now = now or datetime.now(UTC)
    result = []
    states = ca_states()
    for ca in list_cas():
        key_ok, why = key_usable(ca)
        state = states[ca.id]
        crl = crl_of(ca)
        result.append(CAOverview(
            ca=ca, key_ok=key_ok, key_problem="" if key_ok else why,
            crl_number=crl[0] if crl else None,
            crl_this_update=crl[1] if crl else None,
            crl_next_update=crl[2] if crl else None,
            crl_problem=_crl_problem(ca, crl, key_ok, now),
            state_problem=None if state.usable else Message(
                N_("CA %(name)s signs nothing: %(problem)s. Its certificates are refused at "
                   "/ping; issue from another CA."), name=ca.name, problem=state.problem),
        ))
    return result


def status_counts() -> dict[str, int]:
    """How many certificates are pending, issued and revoked (from the status index)."""
    rows = db.session.execute(
        select(Certificate.status, func.count()).group_by(Certificate.status)
    )
    return {status: count for status, count in rows}


def expiring_count(days: int, now: datetime | None = None) -> int:
    """Issued certificates that expire within `days` days."""
    now = now or datetime.now(UTC)
    return db.session.scalar(
        select(func.count()).select_from(Certificate).where(
            Certificate.status == STATUS_ISSUED,
            Certificate.not_after >= now,
            Certificate.not_after < now + timedelta(days=days),
        )
    )


def expiry_by_day(days: int = EXPIRY_HORIZON_DAYS, now: datetime | None = None) -> list:
    """(date, count) for each of the next `days` days, issued certificates only."""
    now = now or datetime.now(UTC)
    day = func.date(Certificate.not_after)
    rows = db.session.execute(
        select(day, func.count()).where(
            Certificate.status == STATUS_ISSUED,
            Certificate.not_after >= now,
            Certificate.not_after < now + timedelta(days=days),
        ).group_by(day)
    )
    counts = {str(value)[:10]: count for value, count in rows}
    start = now.date()
    return [
        (start + timedelta(days=offset),
         counts.get((start + timedelta(days=offset)).isoformat(), 0))
        for offset in range(days)
    ]


def recent_events(limit: int = 8) -> list[AuditEvent]:
    """The newest audit events."""
    return list(
        db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit))
    )
