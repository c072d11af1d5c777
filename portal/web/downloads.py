"""Certificate downloads, shared by the admin pages and a person's own area."""

from flask import Response, abort

from ..ca.pem import to_der, to_pem
from ..models import Certificate
from ..services import authorities, certificates


def _file_stem(row: Certificate) -> str:
    stem = (row.common_name or "certificate")[:48]
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in stem) or "certificate"


def certificate_download(row: Certificate, kind: str) -> Response:
    """The certificate as PEM, DER, or PEM followed by its CA chain (404 while pending).

    The caller has already checked that the person may see `row`.
    """
    certificate = certificates.load_x509(row)
    if certificate is None:
        abort(404)
    stem = _file_stem(row)
    if kind == "der":
        data, mimetype, name = to_der(certificate), "application/pkix-cert", f"{stem}.cer"
    elif kind == "chain":
        chain = authorities.chain_of(row.ca)
        data = to_pem(certificate) + b"".join(to_pem(c) for c in chain)
        mimetype, name = "application/x-pem-file", f"{stem}-chain.pem"
    else:
        data, mimetype, name = to_pem(certificate), "application/x-pem-file", f"{stem}.pem"
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
