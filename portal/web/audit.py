"""The audit log: every change, who made it and when, searchable."""

from datetime import date

from flask import Blueprint, render_template, request

from ..services import export
from ..services.audit_search import AuditQuery, audit_page
from .access import require_admin
from .exports import export_response

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.before_request(require_admin)

ACTIONS = ("auth.", "certificate.", "key.", "ca.", "crl.", "user.", "request.", "policy.",
           "enroll.")


def _day(name: str) -> date | None:
    """A YYYY-MM-DD day from the URL (what a date input sends); anything else is ignored."""
    try:
        return date.fromisoformat(request.args.get(name, "")[:10])
    except ValueError:
        return None


def _query() -> AuditQuery:
    """The search box, area, user and days from the URL (values not offered are ignored)."""
    action = request.args.get("action")
    return AuditQuery(
        q=request.args.get("q", "")[:200], action=action if action in ACTIONS else None,
        actor=request.args.get("user", "")[:128].strip() or None,
        since=_day("from"), until=_day("to"),
    )


def _args(query: AuditQuery) -> dict:
    """The query as URL arguments, for the pager and the export links."""
    values = {"q": query.q, "action": query.action, "user": query.actor,
              "from": query.since and query.since.isoformat(),
              "to": query.until and query.until.isoformat()}
    return {name: value for name, value in values.items() if value}


@bp.get("")
def index():
    """Audit events, newest first; search by user, action or serial, and by days."""
    query = _query()
    try:
        before = int(request.args.get("before", ""))
    except ValueError:
        before = None
    page = audit_page(query, before=before)
    return render_template("audit.html", rows=page.rows, q=query.q, action=query.action,
                           actions=ACTIONS, next_cursor=page.next_cursor, query=query,
                           args=_args(query), certificate_ids=page.certificate_ids)


@bp.get("/export.<any(csv, json):fmt>")
def export_log(fmt: str):
    """The audit events the page shows for this search, every page, as CSV or JSON."""
    return export_response(export.audit_records(query=_query()), export.AUDIT_FIELDS, fmt,
                           "audit")
