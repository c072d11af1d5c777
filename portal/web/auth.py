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
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..limiter import limiter
from ..services import auth
from ..translatable import N_
from .access import home_url
from .forms.auth import LoginForm
from .security import is_safe_next
from .sessions import SESSION_ID
from .throttle import account_key, address_key, client_address

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = N_("Wrong user name or password.")
THROTTLED = N_("Too many failed sign-ins. Wait a minute, then try again.")


def login_limit() -> str:
    """The sign-in throttle, e.g. '5 per minute' (failed attempts only)."""
    return current_app.config["PORTAL_LOGIN_LIMIT"]


def _failed(response) -> bool:
    """Only failed sign-ins count against the throttle."""
    return bool(g.get("login_failed"))


def _safe_next() -> str:
    target = request.values.get("next")
    return target if is_safe_next(target) else home_url()


def throttled_login_page():
    """The sign-in page saying to wait (HTTP 429)."""
    form = LoginForm()
    form.form_errors.append(_(THROTTLED))
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
        signed_in = auth.sign_in(username, form.password.data, address=client_address())
        if signed_in is None:
            g.login_failed = True
            form.form_errors.append(_(GENERIC_FAILURE))
            return render_template("login.html", form=form), 200
        wanted = request.values.get("next")
        session.clear()  # a fresh session: nothing from before sign-in survives it
        session[SESSION_ID] = signed_in.session_id
        login_user(signed_in.user)
        target = wanted if is_safe_next(wanted) else home_url()
        return redirect(target)
    return render_template("login.html", form=form)


@bp.post("/logout")
def logout():
    """Sign out everywhere (a POST with the CSRF token, so no other site can sign anyone out).

    Every session of the person ends, on every host and device: a copied cookie is dead too.
    """
    if current_user.is_authenticated:
        auth.sign_out(current_user.id, current_user.username)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/account")
@login_required
def account():
    """A signed-in person's own page: their certificates and requests (see selfservice)."""
    from .selfservice import account_page

    return account_page()
