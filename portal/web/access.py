"""Who may do what, in one place: admin-only areas and owner-or-admin access to a certificate."""

import functools

from flask import abort, url_for
from flask_login import current_user, login_required

from ..extensions import db, login_manager
from ..models import Certificate


def current_actor() -> str:
    """How the signed-in person appears in the audit log."""
    if current_user.is_authenticated:
        return f"web:{current_user.username}"
    return "web:anonymous"


def require_admin():
    """A blueprint's before_request hook: sign in first, then be an admin (403 otherwise)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None


def admin_required(view):
    """Decorate a view that only admins may use."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def get_certificate(certificate_id: int, *, check_owner: bool = True) -> Certificate:
    """A certificate the signed-in person may see: fetch or 404; the owner's or an admin's.

    Someone else's certificate is a 404, not a 403, so its existence does not leak.
    """
    row = db.session.get(Certificate, certificate_id)
    if row is None:
        abort(404)
    if check_owner and not (
        current_user.is_authenticated
        and (current_user.is_admin or row.owner_id == current_user.id)
    ):
        abort(404)
    return row


def home_url() -> str:
    """Where a signed-in person lands: the dashboard for admins, their account otherwise."""
    if current_user.is_authenticated and current_user.is_admin:
        return url_for("dashboard.index")
    return url_for("auth.account")
