"""Enrollment links: admins create and withdraw them; anyone with a link downloads from it once.

The public page needs no account: the token in the URL is the credential. Opening the page
(GET) changes nothing, so a mail scanner that follows the link does not use it up; only the
download (POST, with its CSRF token) does. A wrong token gets the same sentence whatever link
it resembles.
"""

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from ..errors import PortalError
from ..services import enrollment
from ..services.enrollment import LinkRefused
from .access import current_actor, require_admin
from .errors import status_of
from .forms import show_error
from .forms.admin import ActionForm
from .forms.selfservice import DownloadForm, EnrollLinkForm
from .i18n import translate_error

admin_bp = Blueprint("enrollment", __name__, url_prefix="/enrollment")
admin_bp.before_request(require_admin)
bp = Blueprint("enroll", __name__, url_prefix="/enroll")


def _admin_page(form, *, new_link: str | None = None, status: int = 200):
    return render_template(
        "enroll/links.html", form=form, rows=enrollment.list_links(), action=ActionForm(),
        state=enrollment.link_state, new_link=new_link,
    ), status


@admin_bp.get("")
def index():
    """The links made so far, and the form to make one."""
    return _admin_page(EnrollLinkForm())


@admin_bp.post("")
def create():
    """Create a link; it is shown in this response only (the portal keeps its hash)."""
    form = EnrollLinkForm()
    if not form.validate_on_submit():
        return _admin_page(form, status=400)
    try:
        _row, token = enrollment.create_link(
            common_name=form.common_name.data, email=form.email.data,
            profile_name=form.profile.data, key_type=form.key_type.data,
            hours=form.hours.data, days=form.days.data, actor=current_actor(),
        )
    except PortalError as error:
        show_error(form, error)
        return _admin_page(form, status=status_of(error))
    return _admin_page(EnrollLinkForm(formdata=None), new_link=enrollment.link_url(token))


@admin_bp.post("/<int:link_id>/cancel")
def cancel(link_id: int):
    """Withdraw a link that has not been used."""
    if not ActionForm().validate_on_submit():
        return _admin_page(EnrollLinkForm(formdata=None), status=400)
    try:
        row = enrollment.cancel_link(link_id, actor=current_actor())
    except PortalError as error:
        flash(translate_error(error), "error")
    else:
        flash(_("The link for %(common_name)s is withdrawn.",
                common_name=row.common_name), "success")
    return redirect(url_for("enrollment.index"))


def _refused(error: PortalError):
    return render_template("enroll/refused.html", message=translate_error(error),
                           gone=isinstance(error, LinkRefused)), status_of(error)


def _redeem_page(link, form, status: int = 200):
    return render_template("enroll/redeem.html", link=link, form=form), status


@bp.get("/<token>")
def redeem_form(token: str):
    """The page the link opens: who it is for, and the password and compatibility choice."""
    try:
        link = enrollment.open_link(token)
    except PortalError as error:
        return _refused(error)
    return _redeem_page(link, DownloadForm())


@bp.post("/<token>")
def redeem(token: str):
    """Use the link: the .p12 is made now and handed over; the link then stops working."""
    try:
        link = enrollment.open_link(token, attempt=True)
    except PortalError as error:
        return _refused(error)
    form = DownloadForm()
    if not form.validate_on_submit():
        return _redeem_page(link, form, 400)
    try:
        bundle = enrollment.redeem(token, password=form.password.data,
                                   compatibility=form.compatibility.data)
    except LinkRefused as error:
        return _refused(error)
    except PortalError as error:
        show_error(form, error)
        return _redeem_page(link, form, status_of(error))
    return Response(bundle.data, mimetype=bundle.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{bundle.filename}"',
        "Cache-Control": "no-store",
    })
