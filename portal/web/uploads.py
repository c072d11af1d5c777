"""What people upload in forms: read with a size limit, before any service sees it."""

from flask import current_app

from ..errors import InvalidInput
from ..translatable import N_


def csr_bytes(form) -> bytes:
    """The CSR from the form's upload (`csr_file`), or else from its text box (`csr`)."""
    upload = form.csr_file.data
    if upload and getattr(upload, "filename", ""):
        limit = current_app.config["PORTAL_MAX_CSR_BYTES"]
        data = upload.read(limit + 1)
        if len(data) > limit:
            raise InvalidInput(N_("the CSR file is larger than %(limit)s bytes"), field="csr_file",
                limit=limit)
        return data
    return (form.csr.data or "").encode("utf-8")
