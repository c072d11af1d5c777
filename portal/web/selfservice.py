"""A person's own area: their certificates and requests, requesting, renewing and revoking.

Everything here is about the signed-in person's own certificates: someone else's certificate
or request is a 404, for admins too (admins have the certificate pages for that).
"""

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import NotFound, PortalError
from ..models import REQUEST_APPROVED
from ..services import policy, selfservice
from .access import current_actor
from .downloads import certificate_download
from .errors import status_of
from .forms import choices, show_error
from .forms.admin import ActionForm
from .forms.certs import REASON_LABELS
from .forms.issue import PROFILE_CHOICES
from .forms.selfservice import DownloadForm, RenewForm, RequestForm, SelfRevokeForm
from .i18n import translate_error
from .uploads import csr_bytes

bp = Blueprint("self", __name__, url_prefix="/account")

# Where a policy error about the names goes when the names came from a CSR.
CSR_FIELDS = {"common_name": "csr", "email": "csr", "sans": "csr", "subject": "csr"}
FORM_FIELDS = {"subject": "common_name"}


@bp.before_request
@login_required
def signed_in():
    """Every page here needs a signed-in person."""


def _own_certificate(certificate_id: int):
    try:
        return selfservice.own_certificate(certificate_id, current_user.id)
    except NotFound:
        abort(404)


def _own_request(request_id: int):
    try:
        return selfservice.own_request(request_id, current_user.id)
    except NotFound:
        abort(404)


def account_page():
    """The person's own page: their certificates, their requests, what is ready to download."""
    requests = selfservice.user_requests(current_user.id)
    return render_template(
        "self/account.html", rows=selfservice.user_certificates(current_user.id),
        requests=requests, ready=[r for r in requests if r.status == REQUEST_APPROVED],
        renewable=selfservice.renewable, open_profiles=policy.open_profiles(),
        download_deadline=selfservice.download_deadline,
    )


def _aliases(form) -> dict[str, str]:
    return CSR_FIELDS if form.method.data == selfservice.METHOD_CSR else FORM_FIELDS


def _request_page(form, status: int = 200):
    return render_template("self/request.html", form=form, policies=policy.list_policies(),
                           user=current_user), status


@bp.route("/request", methods=["GET", "POST"])
def request_certificate():
    """Ask for a certificate: with a key made here, or from a CSR."""
    form = RequestForm()
    labels = dict(PROFILE_CHOICES)
    form.profile.choices = choices((name, labels[name]) for name in policy.open_profiles())
    if not form.is_submitted():
        form.common_name.data = current_user.username
        form.email.data = current_user.email or ""
    if not form.profile.choices:
        form.form_errors.append("No kind of certificate is open to requests: ask an admin.")
        return _request_page(form)
    if not form.validate_on_submit():
        return _request_page(form, 400 if form.is_submitted() else 200)
    try:
        row = selfservice.create_request(
            current_user, profile_name=form.profile.data, method=form.method.data,
            common_name=(form.common_name.data or "").strip(), email=form.email.data,
            sans=(form.sans.data or "").splitlines(), key_type=form.key_type.data,
            csr_data=csr_bytes(form) if form.method.data == selfservice.METHOD_CSR else None,
            days=form.days.data, actor=current_actor(),
        )
    except PortalError as error:
        show_error(form, error, _aliases(form))
        return _request_page(form, status_of(error))
    return _after_request(row)


def _after_request(row):
    if row.status == REQUEST_APPROVED:
        flash(_("Your request is approved: choose a password and download your certificate."),
              "success")
        return redirect(url_for("self.request_detail", request_id=row.id))
    if row.certificate_id:
        flash(_("Your certificate is issued."), "success")
        return redirect(url_for("self.certificate", certificate_id=row.certificate_id))
    flash(_("Your request is sent. An admin will look at it; this page shows the outcome."),
          "success")
    return redirect(url_for("self.request_detail", request_id=row.id))


@bp.get("/requests/<int:request_id>")
def request_detail(request_id: int):
    """One request: its names, its state, the admin's comment, and the download when ready."""
    return _request_detail(_own_request(request_id), DownloadForm())


def _request_detail(row, form, status: int = 200):
    return render_template("self/request_detail.html", row=row, form=form,
                           deadline=selfservice.download_deadline(row)), status


@bp.post("/requests/<int:request_id>/download")
def download(request_id: int):
    """Make the key, issue the certificate and hand over the .p12: once, never stored."""
    row = _own_request(request_id)
    form = DownloadForm()
    if not form.validate_on_submit():
        return _request_detail(row, form, 400)
    try:
        bundle = selfservice.download(
            row.id, current_user.id, password=form.password.data,
            compatibility=form.compatibility.data, actor=current_actor(),
        )
    except PortalError as error:
        show_error(form, error)
        return _request_detail(row, form, status_of(error))
    return Response(bundle.data, mimetype=bundle.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{bundle.filename}"',
        "Cache-Control": "no-store",
        "X-Certificate-Serial": bundle.certificate.serial,
        "X-Certificate-Location": url_for("self.certificate",
                                          certificate_id=bundle.certificate.id),
    })


@bp.post("/requests/<int:request_id>/cancel")
def cancel(request_id: int):
    """Withdraw a request that is not issued yet."""
    row = _own_request(request_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        selfservice.cancel(row.id, current_user.id, actor=current_actor())
    except PortalError as error:
        flash(translate_error(error), "error")
    else:
        flash(_("Request %(id)s is withdrawn.",
                id=row.id), "info")
    return redirect(url_for("auth.account"))


def _certificate_page(row, *, revoke_form=None, renew_form=None, status: int = 200):
    return render_template(
        "self/certificate.html", row=row, reasons=REASON_LABELS,
        revoke_form=revoke_form or SelfRevokeForm(), renew_form=renew_form or RenewForm(),
        renewable=selfservice.renewable(row), renewal_opens=selfservice.renewal_opens(row),
    ), status


@bp.get("/certificates/<int:certificate_id>")
def certificate(certificate_id: int):
    """One of the person's certificates: state, expiry, downloads, renew and revoke."""
    return _certificate_page(_own_certificate(certificate_id))


@bp.get("/certificates/<int:certificate_id>/<any(pem, der, chain):kind>")
def certificate_file(certificate_id: int, kind: str):
    """The certificate as PEM, DER, or PEM followed by the CA chain."""
    return certificate_download(_own_certificate(certificate_id), kind)


@bp.post("/certificates/<int:certificate_id>/revoke")
def revoke(certificate_id: int):
    """Revoke one's own certificate: key compromise, superseded or no longer needed."""
    row = _own_certificate(certificate_id)
    form = SelfRevokeForm()
    if not form.validate_on_submit():
        return _certificate_page(row, revoke_form=form, status=400)
    try:
        selfservice.revoke_own(row.id, current_user.id, reason=form.reason.data,
                               actor=current_actor())
    except PortalError as error:
        show_error(form, error)
        return _certificate_page(row, revoke_form=form, status=status_of(error))
    flash(_("Certificate %(serial)s is revoked (%(REASON_LABELS)s).",
            serial=row.serial, REASON_LABELS=REASON_LABELS[form.reason.data]),
          "success")
    return redirect(url_for("self.certificate", certificate_id=row.id))


@bp.post("/certificates/<int:certificate_id>/renew")
def renew(certificate_id: int):
    """Ask for the successor of a certificate close to its end."""
    row = _own_certificate(certificate_id)
    form = RenewForm()
    if not form.validate_on_submit():
        return _certificate_page(row, renew_form=form, status=400)
    try:
        new = selfservice.renew(
            current_user, row.id, method=form.method.data, key_type=form.key_type.data,
            csr_data=csr_bytes(form) if form.method.data == selfservice.METHOD_CSR else None,
            actor=current_actor(),
        )
    except PortalError as error:
        show_error(form, error, _aliases(form))
        return _certificate_page(row, renew_form=form, status=status_of(error))
    return _after_request(new)
