"""Health and metrics, computed from the database when asked, so every worker agrees."""

from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from ..ca.serials import serial_to_hex
from ..clock import iso_utc
from ..extensions import db
from ..models import STATUS_ISSUED, STATUS_REVOKED, Certificate, CertificateAuthority
from .authorities import key_usable, list_cas
from .ca_state import ca_states
from .crl import CRLState, crl_state, utcnow
from .secrets import ca_secret
from .server_tls import current_server_certificate, server_certificate_problem

EXPIRY_WINDOW = timedelta(days=30)
_MISSING_SECRET = (
    "the CA secret is not configured (instance/ca-secret or PORTAL_CA_SECRET): CRLs cannot be "
    "re-signed and certificates cannot be issued"
)



def _key_state(ca: CertificateAuthority, secret_present: bool) -> tuple[bool, str]:
    """Whether the CA key can sign, here and in any new process (cron, other workers)."""
    if not secret_present:
        return False, _MISSING_SECRET
    return key_usable(ca)


def _crl_report(state: CRLState, now: datetime) -> dict | None:
    if not state.published:
        return None
    return {
        "number": state.number,
        "entries": state.revoked_count,
        "this_update": iso_utc(state.this_update),
        "next_update": iso_utc(state.next_update),
        "resign_at": iso_utc(state.refresh_at),
        "age_seconds": int((now - state.this_update).total_seconds()),
        "seconds_to_next_update": int((state.next_update - now).total_seconds()),
        "due": state.is_due(now),
        "expired": state.is_expired(now),
    }


def health_report() -> tuple[dict, bool]:
    """The database, each CA key and each CRL; the report and whether all is well."""
    problems: list[str] = []
    report: dict = {"status": "ok", "database": {"ok": True}, "cas": [], "problems": problems}
    try:
        db.session.execute(text("SELECT 1"))
        cas = list_cas()
    except Exception as exc:  # any database failure is the answer, not a crash
        db.session.rollback()
        report["database"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        problems.append("the database is not reachable")
        report["status"] = "error"
        return report, False
    secret_present = ca_secret() is not None
    now = utcnow()
    states = ca_states()
    for ca in cas:
        usable, why = _key_state(ca, secret_present)
        state = crl_state(ca_id=ca.id)
        signing = states[ca.id]
        entry = {
            "name": ca.name,
            "default": ca.is_default,
            "key_usable": usable,
            "may_sign": signing.usable,
            "crl": _crl_report(state, now),
        }
        if not signing.usable:
            entry["state_error"] = signing.problem
            problems.append(f"CA {ca.name} signs nothing: {signing.problem}")
        if not usable:
            entry["key_error"] = why
            problems.append(f"CA {ca.name}: its key cannot sign: {why}")
        if state.is_expired(now):
            problems.append(f"CA {ca.name}: the CRL expired at {iso_utc(state.next_update)}")
        elif not state.published:
            entry["note"] = "no CRL yet: the first request or `portal crl refresh` signs one"
        report["cas"].append(entry)
    server = _server_certificate_report()
    if server is not None:
        report["server_certificate"] = server
        if server.get("problem"):
            problems.append(server["problem"])
    _add_ocsp(report, problems)
    if problems:
        report["status"] = "error"
    report["notify"] = _notify_report()
    return report, not problems


def _server_certificate_report() -> dict | None:
    """The HTTPS certificate `portal serve` uses, when this host has one (behind a proxy: no)."""
    certificate = current_server_certificate()
    if certificate is None:
        return None
    report = {"serial": serial_to_hex(certificate.serial_number),
              "not_after": iso_utc(certificate.not_valid_after_utc)}
    problem = server_certificate_problem(certificate)
    if problem:
        report["problem"] = problem
    return report


def _add_ocsp(report: dict, problems: list[str]) -> None:
    """The OCSP responder's state (issue 16); its problems make /healthz answer 503."""
    from .ocsp_health import ocsp_report

    report["ocsp"], found = ocsp_report()
    problems.extend(found)


def _notify_report() -> dict:
    """Expiry mail and webhook state: shown, but never a 503 (serving is not affected)."""
    from .notify_health import notify_health

    try:
        return notify_health()
    except Exception as exc:  # an older schema, say: the rest of the report still stands
        db.session.rollback()
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


class PortalCollector:
    """A prometheus_client collector that reads the numbers from the database at scrape time."""

    def collect(self):
        """Yield the metric families (called inside a request's app context)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        names = dict(db.session.execute(
            select(CertificateAuthority.id, CertificateAuthority.name)
        ).all())
        issued = CounterMetricFamily(
            "portal_certificates_issued", "Certificates signed (issued, revoked later or not).",
            labels=["ca"])
        revoked = CounterMetricFamily(
            "portal_certificates_revoked", "Certificates revoked.", labels=["ca"])
        by_status = GaugeMetricFamily(
            "portal_certificates", "Certificates by status.", labels=["ca", "status"])
        counts = db.session.execute(
            select(Certificate.ca_id, Certificate.status, func.count(),
                   func.count(Certificate.fingerprint_sha256))
            .group_by(Certificate.ca_id, Certificate.status)
        ).all()
        signed: dict[int, int] = dict.fromkeys(names, 0)
        revoked_counts: dict[int, int] = dict.fromkeys(names, 0)
        for ca_id, status, count, signed_count in counts:
            by_status.add_metric([names[ca_id], status], count)
            signed[ca_id] += signed_count
            if status == STATUS_REVOKED:
                revoked_counts[ca_id] += count
        for ca_id, name in names.items():
            issued.add_metric([name], signed[ca_id])
            revoked.add_metric([name], revoked_counts[ca_id])
        yield from (issued, revoked, by_status)
        yield self._expiring(names)
        yield from self._crls(names)
        from .ocsp_health import ocsp_metrics

        yield from ocsp_metrics()

    def _expiring(self, names: dict[int, str]):
        from prometheus_client.core import GaugeMetricFamily

        now = utcnow()
        family = GaugeMetricFamily(
            "portal_certificates_expiring_30d",
            "Issued, unrevoked certificates whose notAfter is within 30 days.", labels=["ca"])
        expiring = dict(db.session.execute(
            select(Certificate.ca_id, func.count())
            .where(Certificate.status == STATUS_ISSUED, Certificate.not_after > now,
                   Certificate.not_after <= now + EXPIRY_WINDOW)
            .group_by(Certificate.ca_id)
        ).all())
        for ca_id, name in names.items():
            family.add_metric([name], expiring.get(ca_id, 0))
        return family

    def _crls(self, names: dict[int, str]):
        from prometheus_client.core import GaugeMetricFamily

        now = utcnow()
        to_next = GaugeMetricFamily(
            "portal_crl_seconds_to_next_update",
            "Seconds until the CRL's nextUpdate (negative: expired).", labels=["ca"])
        age = GaugeMetricFamily("portal_crl_age_seconds", "Seconds since thisUpdate.",
                                labels=["ca"])
        number = GaugeMetricFamily("portal_crl_number", "The current CRL number.", labels=["ca"])
        entries = GaugeMetricFamily("portal_crl_entries", "Entries on the current CRL.",
                                    labels=["ca"])
        for ca_id, name in names.items():
            state = crl_state(ca_id=ca_id)
            if not state.published:
                continue
            to_next.add_metric([name], (state.next_update - now).total_seconds())
            age.add_metric([name], (now - state.this_update).total_seconds())
            number.add_metric([name], state.number)
            entries.add_metric([name], state.revoked_count)
        yield from (to_next, age, number, entries)
