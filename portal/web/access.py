"""Who may do what, in one place: admin-only areas and owner-or-admin access to a certificate."""

import functools

from flask import abort, url_for
from flask_login import current_user, login_required

from ..errors import NotFound
from ..models import Certificate
from ..services import certificates
from ..web_extensions import login_manager


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


def certificate_for_viewer(certificate_id: int, *, check_owner: bool = True) -> Certificate:
    """A certificate the signed-in person may see: fetch or 404; the owner's or an admin's.

    Someone else's certificate is a 404, not a 403, so its existence does not leak.
    """
    if check_owner and not current_user.is_authenticated:
        abort(404)
    owner_id = current_user.id if check_owner and not current_user.is_admin else None
    try:
        return certificates.certificate_by_id(certificate_id, owner_id=owner_id)
    except NotFound:
        abort(404)


def home_url() -> str:
    """Where a signed-in person lands: the dashboard for admins, their account otherwise."""
    if current_user.is_authenticated and current_user.is_admin:
        return url_for("dashboard.index")
    return url_for("auth.account")
