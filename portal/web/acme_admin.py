"""The ACME admin page (admins only): endpoints and their policy, accounts, orders, EAB keys."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from ..errors import PortalError
from ..services import acme_accounts, acme_admin, acme_endpoints, authorities
from .access import current_actor, require_admin
from .errors import status_of
from .forms import show_error
from .forms.admin import ActionForm
from .i18n import translate_error

bp = Blueprint("acme_admin", __name__, url_prefix="/acme-endpoints")
bp.before_request(require_admin)


class EndpointForm(FlaskForm):
    """A new ACME endpoint."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)],
                       description=_l("Lower-case letters, digits, - and _: /acme/NAME/directory."))
    ca = SelectField(_l("CA"), choices=[])
    domains = StringField(_l("DNS suffixes"), validators=[Length(max=2000)],
                          description=_l("Comma-separated: example.com allows it and every name "
                                      "under it."))
    networks = StringField(_l("IP networks"), validators=[Length(max=2000)],
                           description=_l("Comma-separated CIDR, e.g. 10.0.0.0/8."))
    days = IntegerField(_l("Validity (days)"), default=acme_endpoints.DEFAULT_DAYS,
                        validators=[NumberRange(min=1, max=825)])
    eab_required = BooleanField(_l("Accounts need an external account binding"))


class EabForm(FlaskForm):
    """A new EAB key for a user."""

    username = StringField(_l("User"), validators=[DataRequired(), Length(max=64)])


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace(" ", ",").split(",") if part.strip()]


def _endpoint_form() -> EndpointForm:
    form = EndpointForm()
    form.ca.choices = [(ca.name, ca.name) for ca in authorities.list_cas()]
    return form


def _page(form=None, eab_form=None, status: int = 200, *, shown_key=None):
    return render_template(
        "admin/acme.html", overview=acme_admin.overview(), form=form or _endpoint_form(),
        eab_form=eab_form or EabForm(), action=ActionForm(), shown_key=shown_key,
    ), status


@bp.get("")
def index():
    """Endpoints, accounts and orders."""
    return _page()


@bp.post("")
def create():
    """Create an endpoint."""
    form = _endpoint_form()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        row = acme_endpoints.create_endpoint(
            form.name.data, ca_name=form.ca.data, domains=_split(form.domains.data),
            networks=_split(form.networks.data), days=form.days.data,
            eab_required=form.eab_required.data, actor=current_actor())
    except PortalError as error:
        show_error(form, error, aliases={"domain": "domains", "network": "networks"})
        return _page(form, status=status_of(error))
    flash(_("Created ACME endpoint %(name)s.",
            name=row.name), "success")
    return redirect(url_for("acme_admin.index"))


@bp.post("/<name>/<any(enable, disable):change>")
def switch(name: str, change: str):
    """Enable or disable an endpoint."""
    if not ActionForm().validate_on_submit():
        return _page(status=400)
    try:
        acme_endpoints.set_enabled(name, change == "enable", actor=current_actor())
    except PortalError as error:
        flash(translate_error(error), "error")
        return redirect(url_for("acme_admin.index"))
    if change == "enable":
        flash(_("Enabled ACME endpoint %(name)s.", name=name), "success")
    else:
        flash(_("Disabled ACME endpoint %(name)s.", name=name), "success")
    return redirect(url_for("acme_admin.index"))


@bp.post("/eab")
def eab():
    """A new EAB key for a user, shown on this response only."""
    form = EabForm()
    if not form.validate_on_submit():
        return _page(eab_form=form, status=400)
    try:
        row, hmac_key = acme_accounts.create_eab_key(form.username.data, actor=current_actor())
    except PortalError as error:
        show_error(form, error, aliases={"user": "username"})
        return _page(eab_form=form, status=status_of(error))
    return _page(shown_key=(form.username.data, row.key_id, hmac_key))
