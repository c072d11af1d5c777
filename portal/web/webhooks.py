"""Webhooks (admins only): register a URL for lifecycle events, remove it, see deliveries."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..errors import PortalError
from ..services import notify_health, webhooks
from .access import current_actor, require_admin
from .errors import status_of
from .forms import choices, show_error
from .forms.admin import ActionForm
from .i18n import translate_error

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
bp.before_request(require_admin)


class WebhookForm(FlaskForm):
    """A URL, the events it receives, and optionally its secret."""

    url = StringField(_l("URL"), validators=[DataRequired(), Length(max=2048)],
                      description=_l("http:// or https://; only this URL is ever called."))
    events = SelectMultipleField(
        _l("Events"), choices=choices((name, name) for name in webhooks.EVENTS),
        validators=[DataRequired(message=_l("Choose at least one event."))],
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    secret = TextAreaField(
        _l("Signing secret"), validators=[Optional(), Length(max=200)],
        description=_l("whsec_… (Standard Webhooks). Leave empty to generate one, shown once."))


def _page(form=None, status: int = 200, *, shown_secret=None):
    return render_template(
        "admin/webhooks.html", rows=webhooks.list_webhooks(), form=form or WebhookForm(),
        action=ActionForm(), deliveries=webhooks.recent_deliveries(),
        health=notify_health.notify_health(), shown_secret=shown_secret,
    ), status


@bp.get("")
def index():
    """The registered webhooks, the latest deliveries, and the form to add one."""
    return _page()


@bp.post("")
def create():
    """Register a webhook; a generated secret is shown on this response only."""
    form = WebhookForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    given = (form.secret.data or "").strip() or None
    try:
        row = webhooks.add_webhook(form.url.data, form.events.data, secret=given,
                                   actor=current_actor())
    except PortalError as error:
        show_error(form, error)
        return _page(form, status_of(error))
    if given is None:
        return _page(shown_secret=(row.url, row.secret))
    flash(_("Added webhook %(url)s.",
            url=row.url), "success")
    return redirect(url_for("webhooks.index"))


@bp.post("/<int:webhook_id>/remove")
def remove(webhook_id: int):
    """Unregister a webhook."""
    if not ActionForm().validate_on_submit():
        return _page(status=400)
    try:
        row = webhooks.remove_webhook(webhook_id, actor=current_actor())
    except PortalError as error:
        flash(translate_error(error), "error")
        return redirect(url_for("webhooks.index"))
    flash(_("Removed webhook %(url)s.",
            url=row.url), "success")
    return redirect(url_for("webhooks.index"))
