"""Users: create, disable or enable, set the role, reset the password."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..errors import PortalError
from ..models import ROLE_ADMIN, ROLE_USER
from ..services import users
from .access import current_actor, require_admin
from .errors import status_of
from .forms import show_error
from .forms.admin import ActionForm, CreateUserForm
from .i18n import translate_error

bp = Blueprint("users", __name__, url_prefix="/users")
bp.before_request(require_admin)


def _page(form=None, status: int = 200, *, shown_password=None):
    rows = users.list_users()
    return render_template(
        # formdata=None: after a success the Add-user form is empty, not refilled from the post
        "users.html", rows=rows, form=form or CreateUserForm(formdata=None),
        sole_admin_id=users.sole_active_admin_id(rows),
        action=ActionForm(), shown_password=shown_password,
    ), status


@bp.get("")
def index():
    """Every user, and the form to add one."""
    return _page()


@bp.post("")
def create():
    """Create a user; a generated password is shown once, on this response only."""
    form = CreateUserForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        user, generated = users.create_user(
            form.username.data.strip(), role=form.role.data, password=form.password.data or None,
            email=(form.email.data or "").strip() or None, actor=current_actor(),
        )
    except PortalError as error:
        show_error(form, error)
        return _page(form, status_of(error))
    if generated:
        # Rendered, not flashed: the session cookie is signed, not encrypted.
        return _page(shown_password=(user.username, generated))
    if user.is_admin:
        flash(_("Created admin %(username)s.", username=user.username), "success")
    else:
        flash(_("Created user %(username)s.", username=user.username), "success")
    return redirect(url_for("users.index"))


def _action(apply):
    if not ActionForm().validate_on_submit():
        return _page(status=400)
    try:
        message = apply()
    except PortalError as error:
        flash(translate_error(error), "error")
        return redirect(url_for("users.index"))
    if isinstance(message, tuple):
        return _page(shown_password=message)
    flash(message, "success")
    return redirect(url_for("users.index"))


@bp.post("/<int:user_id>/role")
def set_role(user_id: int):
    """Make a user an admin or a plain user."""
    role = request.form.get("role")
    if role not in (ROLE_ADMIN, ROLE_USER):
        return _page(status=400)

    def apply():
        user = users.set_role(user_id, role, actor=current_actor())
        if user.is_admin:
            return _("%(username)s is now an admin; their sessions have ended, so they sign in "
                     "again.", username=user.username)
        return _("%(username)s is now a user; their sessions have ended, so they sign in again.",
                 username=user.username)

    return _action(apply)


@bp.post("/<int:user_id>/active")
def set_active(user_id: int):
    """Disable a user (signed out everywhere, API tokens revoked) or enable them again."""
    active = request.form.get("active") == "1"

    def apply():
        user = users.set_active(user_id, active, actor=current_actor())
        if user.active:
            return _("%(username)s is enabled. They sign in again, and make new API tokens: the "
                     "old ones stay revoked.", username=user.username)
        return _("%(username)s is disabled: signed out everywhere, and every API token of "
                 "theirs is revoked.", username=user.username)

    return _action(apply)


@bp.post("/<int:user_id>/password")
def reset_password(user_id: int):
    """Give a user a new generated password, shown once; their sessions and API tokens end."""

    def apply():
        user, password = users.reset_password(user_id, actor=current_actor())
        return (user.username, password)

    return _action(apply)
