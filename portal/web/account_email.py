"""A person's own e-mail address, where their certificates' expiry warnings go."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from ..errors import PortalError
from ..services import users
from .access import current_actor
from .errors import status_of
from .forms import show_error

bp = Blueprint("account_email", __name__, url_prefix="/account/email")


class EmailForm(FlaskForm):
    """The address (empty: no warnings by e-mail)."""

    email = StringField(_l("E-mail address"), validators=[Optional(), Length(max=254)],
                        description=_l("Expiry warnings for your certificates are sent here."))


@bp.route("", methods=["GET", "POST"])
@login_required
def edit():
    """Show and change the signed-in person's address."""
    form = EmailForm()
    if not form.is_submitted():
        form.email.data = current_user.email or ""
        return render_template("self/email.html", form=form)
    if not form.validate():
        return render_template("self/email.html", form=form), 400
    try:
        user = users.set_email(current_user.username, form.email.data, actor=current_actor())
    except PortalError as error:
        show_error(form, error)
        return render_template("self/email.html", form=form), status_of(error)
    flash(_("Expiry warnings go to %(email)s.", email=user.email) if user.email
          else _("No e-mail address: you get no expiry warnings."), "success")
    return redirect(url_for("auth.account"))
