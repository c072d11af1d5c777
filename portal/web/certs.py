"""Certificates: the searchable list, a detail page, downloads and revocation."""

from dataclasses import replace

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..ca.pem import to_pem
from ..ca.revocation import REASONS
from ..errors import PortalError
from ..models import STATUS_ISSUED, STATUS_PENDING, STATUS_REVOKED
from ..services import authorities, bulk_revoke, certificates, export
from ..services.search import CertificateQuery, search_certificates
from ..services.timeline import certificate_timeline
from .access import certificate_for_viewer, current_actor, require_admin
from .downloads import certificate_download
from .errors import status_of
from .exports import export_response
from .forms import show_error
from .forms.certs import REASON_LABELS, BulkRevokeForm, RevokeForm
from .x509view import describe_certificate

bp = Blueprint("certs", __name__, url_prefix="/certificates")
bp.before_request(require_admin)

STATUSES = (STATUS_ISSUED, STATUS_REVOKED, STATUS_PENDING)
PROFILES = ("client", "server")
SORT_LABELS = {
    "newest": _l("Newest first"), "oldest": _l("Oldest first"),
    "expires": _l("Expiring soonest"), "-expires": _l("Expiring last"),
}
EXPIRING_CHOICES = (7, 30, 90, 365)


def _int_arg(name: str, low: int, high: int) -> int | None:
    try:
        value = int(request.args.get(name, ""))
    except ValueError:
        return None
    return value if low <= value <= high else None


def query_from_args() -> CertificateQuery:
    """The list's query from the URL, ignoring values that are not offered."""
    status = request.args.get("status")
    profile = request.args.get("profile")
    sort = request.args.get("sort", "newest")
    return CertificateQuery(
        q=request.args.get("q", "")[:200],
        status=status if status in STATUSES else None,
        profile=profile if profile in PROFILES else None,
        ca_id=_int_arg("ca", 1, 2**31),
        expiring_days=_int_arg("expiring", 1, 3650),
        sort=sort if sort in SORT_LABELS else "newest",
        after=request.args.get("after") or None,
        before=request.args.get("before") or None,
    )


def list_url(endpoint: str = "certs.index", **changes) -> str:
    """The list URL with some arguments changed (None removes one); cursors reset."""
    args = {k: v for k, v in request.args.items() if k not in ("after", "before")}
    args.update(changes)
    return url_for(endpoint, **{k: v for k, v in args.items() if v not in (None, "")})


@bp.get("")
def index():
    """The certificate list: search, filters, sort and pages."""
    return _list_page(BulkRevokeForm(formdata=None))


def _list_page(bulk: BulkRevokeForm, status: int = 200):
    query = query_from_args()
    page = search_certificates(query)
    return render_template(
        "certs/list.html", page=page, query=query, cas=authorities.list_cas(),
        statuses=STATUSES, profiles=PROFILES, sorts=SORT_LABELS,
        expiring_choices=EXPIRING_CHOICES, list_url=list_url, bulk=bulk,
    ), status


@bp.post("/revoke")
def revoke_selected():
    """Revoke the certificates ticked in the list, with one reason and one confirmation."""
    form = BulkRevokeForm()
    try:
        ids = [int(value) for value in request.form.getlist("ids")]
    except ValueError:
        abort(400)
    if not form.validate_on_submit():
        return _list_page(form, 400)
    if form.reason.data not in REASONS:
        abort(400)
    try:
        done = bulk_revoke.revoke_many(ids, reason=form.reason.data, actor=current_actor())
    except PortalError as error:
        show_error(form, error)
        return _list_page(form, status_of(error))
    message = ngettext("Revoked %(num)d certificate (%(reason)s); the CRL lists them.",
                       "Revoked %(num)d certificates (%(reason)s); the CRL lists them.",
                       len(done.revoked), reason=REASON_LABELS[done.reason])
    if done.already_revoked:
        message += " " + ngettext(
            "%(num)d were revoked already and are left as they were.",
            "%(num)d were revoked already and are left as they were.",
            len(done.already_revoked))
    flash(message, "success")
    return redirect(url_for("certs.index", status=STATUS_REVOKED, sort="newest"))


@bp.get("/export.<any(csv, json):fmt>")
def export_list(fmt: str):
    """The list as CSV or JSON: the same filters and order, every page, not just this one."""
    query = replace(query_from_args(), after=None, before=None)
    return export_response(export.certificate_records(query), export.CERTIFICATE_FIELDS, fmt,
                           "certificates")


@bp.get("/<int:certificate_id>")
def detail(certificate_id: int):
    """Everything about one certificate, its downloads and the revocation form."""
    row = certificate_for_viewer(certificate_id)
    return _detail_page(row, RevokeForm())


def _detail_page(row, form, status: int = 200):
    certificate = certificates.load_x509(row)
    return render_template(
        "certs/detail.html", row=row, form=form, reasons=REASON_LABELS,
        facts=describe_certificate(certificate) if certificate else None,
        pem=to_pem(certificate).decode("ascii") if certificate else None,
        timeline=certificate_timeline(row),
    ), status


@bp.get("/<int:certificate_id>/<any(pem, der, chain):kind>")
def download(certificate_id: int, kind: str):
    """The certificate as PEM, DER, or PEM followed by the CA chain."""
    return certificate_download(certificate_for_viewer(certificate_id), kind)


@bp.post("/<int:certificate_id>/revoke")
def revoke(certificate_id: int):
    """Revoke with a reason, once the person has ticked the confirmation."""
    row = certificate_for_viewer(certificate_id)
    form = RevokeForm()
    if not form.validate_on_submit():
        return _detail_page(row, form, 400)
    if form.reason.data not in REASONS:
        abort(400)
    try:
        certificates.revoke_certificate(
            row.serial, reason=form.reason.data, ca_name=row.ca.name, actor=current_actor()
        )
    except PortalError as error:
        show_error(form, error)
        return _detail_page(row, form, status_of(error))
    flash(_("Certificate %(serial)s is revoked (%(REASON_LABELS)s).",
            serial=row.serial, REASON_LABELS=REASON_LABELS[form.reason.data]),
          "success")
    return redirect(url_for("certs.detail", certificate_id=row.id))
