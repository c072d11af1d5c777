"""Issuing: from a CSR (with a preview before signing), or with a key generated for someone."""

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..ca.names import describe_general_name
from ..ca.profiles import PROFILES
from ..errors import InvalidInput, PortalError
from ..services import authorities, issuance, keygen, validity
from ..translatable import N_
from .access import current_actor, require_admin
from .errors import status_of
from .forms import choices, show_error
from .forms.issue import GenerateForm, IssueForm
from .uploads import csr_bytes

bp = Blueprint("issue", __name__)
bp.before_request(require_admin)

# service error fields -> form fields
ALIASES = {"subject": "common_name"}
ISSUE_ALIASES = {"sans": "csr", "subject": "csr", "email": "csr", "key_type": "csr"}


def _with_ca_choices(form):
    cas = authorities.list_cas()
    form.ca.choices = choices((ca.name, f"{ca.name} — {ca.subject}") for ca in cas)
    if not form.ca.data and cas:
        form.ca.data = cas[0].name
    return form


def _as_pem(csr_data: bytes) -> str:
    """The CSR as PEM text (an uploaded DER file is converted; it was parsed already)."""
    if csr_data.lstrip().startswith(b"-----"):
        return csr_data.decode("ascii", "replace")
    csr = x509.load_der_x509_csr(csr_data)
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _describe(checked: issuance.CheckedCSR) -> dict:
    """What the certificate will hold, as the preview shows it."""
    return {
        "subject": checked.subject.rfc4514_string() or "(empty)",
        "sans": [describe_general_name(name) for name in checked.sans],
        "key_type": checked.request.key_type,
        "profile": PROFILES[checked.profile.name].description,
        "days": checked.default_days,
    }


@bp.route("/issue", methods=["GET", "POST"])
def issue():
    """Step 1: paste or upload a CSR; step 2: check the preview; step 3: sign."""
    form = _with_ca_choices(IssueForm())
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200  # e.g. a pasted CSR over the size limit
        return render_template("issue.html", form=form, preview=None), status
    try:
        csr_data = csr_bytes(form)
        if not csr_data.strip():
            raise InvalidInput(N_("paste a CSR or choose a file"), field="csr")
        checked = issuance.preview(csr_data, form.profile.data)
        if form.step.data != "sign":
            form.csr.data = _as_pem(csr_data)  # the preview page carries the CSR as text
            preview = _describe(checked)
            preview["validity"] = validity.plan_validity(
                form.profile.data, form.days.data, ca_name=form.ca.data)
            return render_template("issue.html", form=form, preview=preview)
        row = issuance.issue_checked(
            checked, ca_name=form.ca.data, days=form.days.data,
            requested_by=current_user.id, actor=current_actor(),
        )
    except PortalError as error:
        show_error(form, error, ISSUE_ALIASES | {"profile": "profile", "ca": "ca"})
        return render_template("issue.html", form=form, preview=None), status_of(error)
    flash(_("Issued certificate %(serial)s for %(value)s.",
            serial=row.serial, value=row.common_name or row.sans), "success")
    return redirect(url_for("certs.detail", certificate_id=row.id))


@bp.route("/generate", methods=["GET", "POST"])
def generate():
    """Generate a key for someone; the response is the .p12 (or PEM) itself, never stored."""
    form = _with_ca_choices(GenerateForm())
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("generate.html", form=form), status
    try:
        bundle = keygen.generate_bundle(
            common_name=form.common_name.data.strip(),
            email=form.email.data,
            sans=(form.sans.data or "").splitlines(),
            profile_name=form.profile.data,
            key_type=form.key_type.data,
            password=form.password.data,
            compatibility=form.compatibility.data,
            output=form.output.data,
            ca_name=form.ca.data,
            days=form.days.data,
            requested_by=current_user.id,
            actor=current_actor(),
        )
    except PortalError as error:
        show_error(form, error, ALIASES)
        return render_template("generate.html", form=form), status_of(error)
    return Response(
        bundle.data,
        mimetype=bundle.mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{bundle.filename}"',
            "Cache-Control": "no-store",
            "X-Certificate-Serial": bundle.certificate.serial,
            # for the page's script: the new certificate's page (downloads.js)
            "X-Certificate-Location": url_for(
                "certs.detail", certificate_id=bundle.certificate.id),
        },
    )
