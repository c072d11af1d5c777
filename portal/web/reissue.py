"""Issue similar (renew) for admins: from a certificate's page, a new one with its names."""

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..ca.names import describe_general_name
from ..errors import PortalError
from ..services import reissue
from .access import certificate_for_viewer, current_actor, require_admin
from .errors import status_of
from .forms import show_error
from .forms.reissue import METHOD_CSR, ReissueForm
from .uploads import csr_bytes

bp = Blueprint("reissue", __name__, url_prefix="/certificates")
bp.before_request(require_admin)

# service error fields -> form fields
ALIASES = {"sans": "csr", "subject": "csr", "email": "csr", "common_name": "method",
           "profile": "method"}


def _page(row, form, status: int = 200):
    try:
        template = reissue.template_of(row.id)
        names = [describe_general_name(name) for name in template.names]
        subject = template.subject.rfc4514_string() or "(empty)"
    except PortalError as error:
        show_error(form, error, ALIASES)
        names, subject = [], row.subject
        status = max(status, status_of(error))
    return render_template("certs/reissue.html", row=row, form=form, names=names,
                           subject=subject), status


@bp.get("/<int:certificate_id>/reissue")
def reissue_form(certificate_id: int):
    """The form: the names that will be copied, and where the new key comes from."""
    return _page(certificate_for_viewer(certificate_id), ReissueForm())


@bp.post("/<int:certificate_id>/reissue")
def reissue_post(certificate_id: int):
    """Issue the new certificate; a key made here is the response (a file), never stored."""
    row = certificate_for_viewer(certificate_id)
    form = ReissueForm()
    if not form.validate_on_submit():
        return _page(row, form, 400)
    old_serial, revoke_old = row.serial, bool(form.revoke_old.data)
    try:
        if form.method.data == METHOD_CSR:
            new = reissue.reissue_from_csr(
                row.id, csr_bytes(form), days=form.days.data, revoke_old=revoke_old,
                requested_by=current_user.id, actor=current_actor())
        else:
            bundle = reissue.reissue_with_new_key(
                row.id, key_type=form.key_type.data, password=form.password.data,
                compatibility=form.compatibility.data, output=form.output.data,
                days=form.days.data, revoke_old=revoke_old, requested_by=current_user.id,
                actor=current_actor())
    except PortalError as error:
        show_error(form, error, ALIASES)
        return _page(row, form, status_of(error))
    if form.method.data != METHOD_CSR:
        return Response(bundle.data, mimetype=bundle.mimetype, headers={
            "Content-Disposition": f'attachment; filename="{bundle.filename}"',
            "Cache-Control": "no-store",
            "X-Certificate-Serial": bundle.certificate.serial,
            "X-Certificate-Location": url_for("certs.detail",
                                              certificate_id=bundle.certificate.id),
        })
    if revoke_old:
        flash(_("Issued %(serial)s with the names of %(old)s, which is now revoked as "
                "superseded.", serial=new.serial, old=old_serial), "success")
    else:
        flash(_("Issued %(serial)s with the names of %(old)s, which stays valid.",
                serial=new.serial, old=old_serial), "success")
    return redirect(url_for("certs.detail", certificate_id=new.id))
