"""The audit log: every change, who made it and when, searchable."""

from flask import Blueprint, render_template, request

from ..services.search import search_audit
from .access import require_admin

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.before_request(require_admin)

ACTIONS = ("auth.", "certificate.", "key.", "ca.", "crl.", "user.", "request.", "policy.",
           "enroll.")


@bp.get("")
def index():
    """Audit events, newest first; search by user, action or serial."""
    q = request.args.get("q", "")[:200]
    action = request.args.get("action")
    action = action if action in ACTIONS else None
    try:
        before = int(request.args.get("before", ""))
    except ValueError:
        before = None
    rows, next_cursor = search_audit(q, action=action, before=before)
    return render_template("audit.html", rows=rows, q=q, action=action, actions=ACTIONS,
                           next_cursor=next_cursor)
