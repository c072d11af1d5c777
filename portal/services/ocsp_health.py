"""The OCSP responder in /healthz and /metrics: responder certificates, stored answers, counts."""

from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from ..extensions import db
from ..models import CertificateAuthority, OCSPCounter, OCSPResponder, OCSPResponse
from .ocsp_signing import signer_mode
from .ocsp_store import aware, response_seconds


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _facts(now: datetime) -> dict:
    responders = db.session.execute(
        select(CertificateAuthority.name, OCSPResponder.serial, OCSPResponder.not_after)
        .join(OCSPResponder, OCSPResponder.ca_id == CertificateAuthority.id)
    ).all()
    oldest, stored = db.session.execute(
        select(func.min(OCSPResponse.this_update), func.count()).select_from(OCSPResponse)
    ).one()
    counters = dict(db.session.execute(select(OCSPCounter.name, OCSPCounter.value)).all())
    return {
        "responders": [(name, serial, aware(not_after)) for name, serial, not_after in responders],
        "oldest": aware(oldest) if oldest is not None else None,
        "stored": stored,
        "served": counters.get("served", 0),
        "signed": counters.get("signed", 0),
    }


def ocsp_report(now: datetime | None = None) -> tuple[dict, list[str]]:
    """The responder's part of /healthz, and the problems an administrator must fix."""
    now = now or datetime.now(UTC)
    facts = _facts(now)
    problems = []
    responders = []
    for name, serial, not_after in facts["responders"]:
        left = int((not_after - now).total_seconds())
        responders.append({"ca": name, "serial": serial, "not_after": _iso(not_after),
                           "seconds_left": left})
        if left <= 0:
            problems.append(f"CA {name}: the OCSP responder certificate expired at "
                            f"{_iso(not_after)}: run `portal ocsp refresh`")
    oldest_age = None
    if facts["oldest"] is not None:
        oldest_age = int((now - facts["oldest"]).total_seconds())
        if oldest_age > response_seconds():
            problems.append(f"the oldest stored OCSP response is {oldest_age} s old, past its "
                            "nextUpdate: `portal ocsp refresh` is not running")
    report = {
        "signer": signer_mode(), "responders": responders, "stored_responses": facts["stored"],
        "oldest_response_age_seconds": oldest_age, "response_seconds": response_seconds(),
        "responses_served": facts["served"], "responses_signed": facts["signed"],
    }
    return report, problems


def ocsp_metrics(now: datetime | None = None):
    """Prometheus metric families for the responder."""
    now = now or datetime.now(UTC)
    facts = _facts(now)
    validity = GaugeMetricFamily(
        "portal_ocsp_responder_seconds_to_expiry",
        "Seconds until the CA's OCSP responder certificate expires.", labels=["ca"])
    for name, _serial, not_after in facts["responders"]:
        validity.add_metric([name], (not_after - now).total_seconds())
    oldest = GaugeMetricFamily("portal_ocsp_oldest_response_age_seconds",
                               "Seconds since thisUpdate of the oldest stored OCSP response.")
    oldest.add_metric([], (now - facts["oldest"]).total_seconds() if facts["oldest"] else 0)
    stored = GaugeMetricFamily("portal_ocsp_stored_responses", "Pre-signed responses stored.")
    stored.add_metric([], facts["stored"])
    served = CounterMetricFamily("portal_ocsp_responses_served",
                                 "OCSP responses served (every process, flushed every 5 s).")
    served.add_metric([], facts["served"])
    signed = CounterMetricFamily("portal_ocsp_responses_signed",
                                 "OCSP responses signed (pre-signed, refreshed or on request).")
    signed.add_metric([], facts["signed"])
    yield from (validity, oldest, stored, served, signed)
