"""Revoking a certificate."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField
from wtforms.validators import DataRequired

from ...ca.revocation import REASONS
from . import choices

REASON_LABELS = {
    "unspecified": "Unspecified",
    "keyCompromise": "Key compromise: the private key leaked or may have",
    "CACompromise": "CA compromise",
    "affiliationChanged": "Affiliation changed: the holder left or moved",
    "superseded": "Superseded: replaced by a new certificate",
    "cessationOfOperation": "Cessation of operation: no longer needed",
    "privilegeWithdrawn": "Privilege withdrawn",
}


class RevokeForm(FlaskForm):
    """A reason, and a box that says the person means it."""

    reason = SelectField(
        "Reason", choices=choices((name, REASON_LABELS.get(name, name)) for name in REASONS),
        default="unspecified",
    )
    confirm = BooleanField(
        "I understand that revocation cannot be undone",
        validators=[DataRequired("Tick the box to confirm the revocation.")],
    )


class BulkRevokeForm(RevokeForm):
    """The same reason and box, for the certificates ticked in the list (`ids`, read apart)."""

    confirm = BooleanField(
        "I understand that revoking the selected certificates cannot be undone",
        validators=[DataRequired("Tick the box to confirm the revocation.")],
    )
