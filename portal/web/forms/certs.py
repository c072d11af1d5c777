"""Revoking a certificate."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField
from wtforms.validators import DataRequired

from ...ca.revocation import REASONS
from . import choices

REASON_LABELS = {
    "unspecified": _l("Unspecified"),
    "keyCompromise": _l("Key compromise: the private key leaked or may have"),
    "CACompromise": _l("CA compromise"),
    "affiliationChanged": _l("Affiliation changed: the holder left or moved"),
    "superseded": _l("Superseded: replaced by a new certificate"),
    "cessationOfOperation": _l("Cessation of operation: no longer needed"),
    "privilegeWithdrawn": _l("Privilege withdrawn"),
}


class RevokeForm(FlaskForm):
    """A reason, and a box that says the person means it."""

    reason = SelectField(
        _l("Reason"), choices=choices((name, REASON_LABELS.get(name, name)) for name in REASONS),
        default="unspecified",
    )
    confirm = BooleanField(
        _l("I understand that revocation cannot be undone"),
        validators=[DataRequired(_l("Tick the box to confirm the revocation."))],
    )


class BulkRevokeForm(RevokeForm):
    """The same reason and box, for the certificates ticked in the list (`ids`, read apart)."""

    confirm = BooleanField(
        _l("I understand that revoking the selected certificates cannot be undone"),
        validators=[DataRequired(_l("Tick the box to confirm the revocation."))],
    )
