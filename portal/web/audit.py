"""The audit log: every change, who made it and when, searchable."""

from flask import Blueprint, render_template, request

from ..services import export
from ..services.search import search_audit
from .access import require_admin
from .exports import export_response

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.before_request(require_admin)

ACTIONS = ("auth.", "certificate.", "key.", "ca.", "crl.", "user.", "request.", "policy.",
           "enroll.")


def _search() -> tuple[str, str | None]:
    """The search box and the area from the URL (an area not offered is ignored)."""
    action = request.args.get("action")
    return request.args.get("q", "")[:200], action if action in ACTIONS else None


@bp.get("")
def index():
    """Audit events, newest first; search by user, action or serial."""
    q, action = _search()
    try:
        before = int(request.args.get("before", ""))
    except ValueError:
        before = None
    rows, next_cursor = search_audit(q, action=action, before=before)
    return render_template("audit.html", rows=rows, q=q, action=action, actions=ACTIONS,
                           next_cursor=next_cursor)


@bp.get("/export.<any(csv, json):fmt>")
def export_log(fmt: str):
    """The audit events the page shows for this search, every page, as CSV or JSON."""
    q, action = _search()
    return export_response(export.audit_records(q, action=action), export.AUDIT_FIELDS, fmt,
                           "audit")
