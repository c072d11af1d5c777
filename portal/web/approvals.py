"""Admins: the queue of users' requests (approve or reject with a comment) and the policies."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import NotFound, PortalError
from ..services import policy, selfservice
from .access import current_actor, require_admin
from .errors import status_of
from .forms import show_error
from .forms.selfservice import DecisionForm, PolicyForm

bp = Blueprint("approvals", __name__, url_prefix="/requests")
bp.before_request(require_admin)
policies_bp = Blueprint("policies", __name__, url_prefix="/policies")
policies_bp.before_request(require_admin)


@bp.app_context_processor
def pending_requests_badge():
    """`pending_requests()` for the navigation: counted only when an admin's page asks."""

    def count() -> int:
        if not (current_user.is_authenticated and current_user.is_admin):
            return 0
        return selfservice.pending_badge()

    return {"pending_requests": count}


@bp.get("")
def index():
    """Requests waiting for a decision, oldest first, and the latest decisions."""
    return render_template("admin/requests.html", pending=selfservice.pending_requests(),
                           decided=selfservice.decided_requests())


def _detail_page(row, form, status: int = 200):
    return render_template("admin/request.html", row=row, form=form), status


def _get(request_id: int):
    try:
        return selfservice.own_request(request_id)
    except NotFound:
        abort(404)


@bp.get("/<int:request_id>")
def detail(request_id: int):
    """One request, with the approve and reject buttons while it is pending."""
    return _detail_page(_get(request_id), DecisionForm())


@bp.post("/<int:request_id>")
def decide(request_id: int):
    """Approve or reject a pending request; the comment is shown to the requester."""
    row = _get(request_id)
    form = DecisionForm()
    decision = request.form.get("decision")
    if not form.validate_on_submit() or decision not in ("approve", "reject"):
        return _detail_page(row, form, 400)
    try:
        if decision == "approve":
            selfservice.approve(row.id, comment=form.comment.data, actor=current_actor())
        else:
            selfservice.reject(row.id, comment=form.comment.data, actor=current_actor())
    except PortalError as error:
        show_error(form, error)
        return _detail_page(row, form, status_of(error))
    who = row.requester.username
    if decision == "reject":
        flash(_("Request %(id)s of %(who)s is rejected.",
                id=row.id, who=who), "info")
    elif row.certificate_id:
        flash(_("Request %(id)s of %(who)s is approved and issued.",
                id=row.id, who=who), "success")
    else:
        flash(_("Request %(id)s of %(who)s is approved: %(who)s can now download it (once).",
                id=row.id, who=who),
              "success")
    return redirect(url_for("approvals.index"))


def _policy_page(selected: str, form: PolicyForm, status: int = 200):
    return render_template("admin/policies.html", policies=policy.list_policies(),
                           selected=selected, form=form), status


def _selected() -> str:
    name = request.args.get("profile", "client")
    return name if name in policy.DEFAULTS else "client"


@policies_bp.get("")
def policies():
    """Every profile's policy, and the form to change one."""
    selected = _selected()
    current = policy.get_policy(selected)
    form = PolicyForm(data={
        "self_service": current.self_service,
        "approval": "auto" if current.auto_issue else "admin",
        "common_name_rule": current.common_name_rule, "email_rule": current.email_rule,
        "dns_suffixes": ", ".join(current.dns_suffixes),
        "ip_networks": ", ".join(current.ip_networks), "max_days": current.max_days,
    })
    return _policy_page(selected, form)


@policies_bp.post("")
def save_policy():
    """Store one profile's policy."""
    selected = _selected()
    form = PolicyForm()
    if not form.validate_on_submit():
        return _policy_page(selected, form, 400)
    try:
        policy.set_policy(
            selected, self_service=form.self_service.data,
            auto_issue=form.approval.data == "auto",
            common_name_rule=form.common_name_rule.data, email_rule=form.email_rule.data,
            dns_suffixes=form.dns_suffixes.data or "", ip_networks=form.ip_networks.data or "",
            max_days=form.max_days.data, actor=current_actor(),
        )
    except PortalError as error:
        show_error(form, error)
        return _policy_page(selected, form, status_of(error))
    flash(_("The %(selected)s policy is saved; it applies to the next request.",
            selected=selected), "success")
    return redirect(url_for("policies.policies", profile=selected))
