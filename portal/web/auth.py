"""Signing in and out, throttled; and the landing page of people who are not admins."""

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db, limiter
from ..services import audit, users
from ..services.ratelimit import account_key, address_key, client_address
from .access import home_url
from .forms.auth import LoginForm
from .security import is_safe_next

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = "Wrong user name or password."
THROTTLED = "Too many failed sign-ins. Wait a minute, then try again."


def login_limit() -> str:
    """The sign-in throttle, e.g. '5 per minute' (failed attempts only)."""
    return current_app.config.get("PORTAL_LOGIN_LIMIT", "5 per minute")


def _failed(response) -> bool:
    """Only failed sign-ins count against the throttle."""
    return bool(g.get("login_failed"))


def _safe_next() -> str:
    target = request.values.get("next")
    return target if is_safe_next(target) else home_url()


def throttled_login_page():
    """The sign-in page saying to wait (HTTP 429)."""
    form = LoginForm()
    form.form_errors.append(THROTTLED)
    return render_template("login.html", form=form), 429


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], deduct_when=_failed, key_func=address_key)
@limiter.limit(login_limit, methods=["POST"], deduct_when=_failed, key_func=account_key)
def login():
    """The sign-in form."""
    if current_user.is_authenticated:
        return redirect(_safe_next())
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        username = form.username.data.strip()
        user = users.authenticate(username, form.password.data)
        if user is None:
            g.login_failed = True
            audit.record("auth.login", actor=f"web:{username[:64]}", outcome="denied",
                         detail=f"from {client_address()}")
            db.session.commit()
            form.form_errors.append(GENERIC_FAILURE)
            return render_template("login.html", form=form), 200
        wanted = request.values.get("next")
        session.clear()  # a fresh session: nothing from before sign-in survives it
        login_user(user)
        target = wanted if is_safe_next(wanted) else home_url()
        audit.record("auth.login", actor=f"web:{user.username}",
                     detail=f"from {client_address()}")
        db.session.commit()
        return redirect(target)
    return render_template("login.html", form=form)


@bp.post("/logout")
def logout():
    """Sign out (a POST with the CSRF token, so no other site can sign anyone out)."""
    if current_user.is_authenticated:
        audit.record("auth.logout", actor=f"web:{current_user.username}")
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/account")
@login_required
def account():
    """A signed-in person's own page: their certificates and requests (see selfservice)."""
    from .selfservice import account_page

    return account_page()
