"""The API tokens page: each signed-in person creates and revokes their own tokens."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from ..errors import PortalError
from ..services import tokens
from .access import current_actor
from .errors import status_of
from .forms import show_error
from .i18n import translate_error

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


class CreateTokenForm(FlaskForm):
    """A name for the new token, to tell it apart later."""

    name = StringField(_l("Name"), validators=[Optional(), Length(max=64)],
                       description=_l("What uses it, e.g. 'deploy bot'."))


class RevokeTokenForm(FlaskForm):
    """A one-button revocation (the CSRF token is the whole form)."""


def _page(form: CreateTokenForm, new_token: str | None = None, status: int = 200):
    rows = tokens.list_tokens(user_id=current_user.id)
    response = render_template("tokens.html", rows=rows, form=form, revoke_form=RevokeTokenForm(),
                               new_token=new_token)
    return response, status


@bp.get("")
@login_required
def index():
    """Your API tokens."""
    return _page(CreateTokenForm())


@bp.post("")
@login_required
def create():
    """Create a token, shown in this response only (never flashed: the session is a cookie)."""
    form = CreateTokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        _row, token = tokens.create_token(
            current_user.username, name=form.name.data, actor=current_actor()
        )
    except PortalError as error:
        show_error(form, error)
        return _page(form, status=status_of(error))
    return _page(CreateTokenForm(formdata=None), new_token=token)


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    """Revoke one of your tokens; it stops working on the next request."""
    form = RevokeTokenForm()
    if not form.validate_on_submit():
        return _page(CreateTokenForm(formdata=None), status=400)
    try:
        row = tokens.revoke_token(token_id, user_id=current_user.id, actor=current_actor())
    except PortalError as error:
        flash(translate_error(error), "error")
        return redirect(url_for("tokens.index"))
    flash(_("Token %(prefix)s… (%(name)s) is revoked.",
            prefix=row.prefix, name=row.name), "success")
    return redirect(url_for("tokens.index"))
