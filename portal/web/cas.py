"""Certificate authorities: see each one, create a root or an intermediate, import one."""

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from ..ca.pem import to_der, to_pem
from ..errors import InvalidInput, NotFound, PortalError
from ..models import CertificateAuthority
from ..services import authorities, dashboard
from ..translatable import N_, Message
from .access import current_actor, require_admin
from .errors import status_of
from .forms import choices, show_error
from .forms.admin import CreateCAForm, ImportCAForm
from .x509view import describe_certificate

bp = Blueprint("cas", __name__, url_prefix="/cas")
bp.before_request(require_admin)

MAX_UPLOAD = 256 * 1024


def _forms(create: CreateCAForm | None = None, upload: ImportCAForm | None = None):
    create = create or CreateCAForm(prefix="create")
    create.parent.choices = choices([("", _("Nobody: a new root CA"))] + [
        (ca.name, f"{ca.name} — {ca.subject}") for ca in authorities.list_cas()
    ])
    return create, upload or ImportCAForm(prefix="import")


def _page(create=None, upload=None, status: int = 200):
    create, upload = _forms(create, upload)
    return render_template(
        "cas/list.html", overviews=dashboard.ca_overviews(), create=create, upload=upload,
    ), status


@bp.get("")
def index():
    """Every CA, and the forms to add one."""
    return _page()


@bp.post("/create")
def create():
    """Create a root CA, or an intermediate under the chosen parent."""
    form, _upload = _forms()
    if not form.validate_on_submit():
        return _page(create=form, status=400)
    try:
        ca = authorities.create_ca(
            form.name.data.strip(), key_type=form.key_type.data, days=form.days.data,
            parent=form.parent.data or None, common_name=(form.common_name.data or "").strip()
            or None, organization=(form.organization.data or "").strip() or None,
            actor=current_actor(),
        )
    except PortalError as error:
        show_error(form, error, {"subject": "common_name"})
        return _page(create=form, status=status_of(error))
    flash(_("Created CA %(name)s.",
            name=ca.name), "success")
    return redirect(url_for("cas.detail", ca_id=ca.id))


def _read(field, what: str) -> bytes:
    upload = field.data
    if not upload or not getattr(upload, "filename", ""):
        raise InvalidInput(N_("choose the %(what)s file"), field=field.short_name,
            what=what)
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InvalidInput(N_("the %(what)s file is too large"), field=field.short_name,
            what=what)
    return data


@bp.post("/import")
def import_():
    """Import an existing CA: its certificate and its private key."""
    _create, form = _forms()
    if not form.validate_on_submit():
        return _page(upload=form, status=400)
    try:
        ca = authorities.import_ca(
            _read(form.cert, Message(N_("certificate"))), _read(form.key, Message(N_("key"))),
            name=(form.name.data or "").strip() or None,
            key_password=(form.key_password.data or "").encode() or None,
            actor=current_actor(),
        )
    except PortalError as error:
        show_error(form, error)
        return _page(upload=form, status=status_of(error))
    flash(_("Imported CA %(name)s.",
            name=ca.name), "success")
    return redirect(url_for("cas.detail", ca_id=ca.id))


def _get(ca_id: int) -> CertificateAuthority:
    try:
        return authorities.ca_by_id(ca_id)
    except NotFound:
        abort(404)


@bp.get("/<int:ca_id>")
def detail(ca_id: int):
    """One CA: its certificate, key state, CRL and where it is published."""
    ca = _get(ca_id)
    overview = next(o for o in dashboard.ca_overviews() if o.ca.id == ca.id)
    return render_template(
        "cas/detail.html", overview=overview, ca=ca,
        facts=describe_certificate(authorities.ca_certificate(ca)),
        urls=authorities.urls_for(ca), public_url=current_app.config["PORTAL_PUBLIC_URL"],
    )


@bp.get("/<int:ca_id>/certificate.<any(pem, der):kind>")
def certificate(ca_id: int, kind: str):
    """The CA certificate to install as trusted, as PEM or DER."""
    ca = _get(ca_id)
    cert = authorities.ca_certificate(ca)
    data = to_der(cert) if kind == "der" else to_pem(cert)
    extension = "cer" if kind == "der" else "pem"
    return Response(
        data, mimetype="application/pkix-cert" if kind == "der" else "application/x-pem-file",
        headers={"Content-Disposition": f'attachment; filename="{ca.name}-ca.{extension}"'},
    )
