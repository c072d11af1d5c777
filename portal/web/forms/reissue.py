"""Issue similar: the old certificate's names and profile, with a new CSR or a new key."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField
from wtforms.validators import NumberRange, Optional

from . import choices
from .issue import GenerateForm, IssueForm

METHOD_CSR = "csr"
METHOD_GENERATE = "generate"


class ReissueForm(FlaskForm):
    """Where the new key comes from, its options, and whether the old one is revoked."""

    method = RadioField(
        _l("The new key"),
        choices=choices([
            (METHOD_GENERATE, _l("Generate a new key here and download it in a file")),
            (METHOD_CSR, _l("Use a new CSR (the names in it are ignored: the old ones are kept)")),
        ]),
        default=METHOD_GENERATE,
    )
    csr = IssueForm.csr
    csr_file = IssueForm.csr_file
    key_type = GenerateForm.key_type
    password = GenerateForm.password
    compatibility = GenerateForm.compatibility
    output = GenerateForm.output
    days = IntegerField(
        _l("Validity (days)"), validators=[Optional(), NumberRange(min=1, max=20000)],
        description=_l("Leave empty for the profile's default. Never past the CA's own expiry."),
    )
    revoke_old = BooleanField(
        _l("Revoke the old certificate as superseded once the new one is issued"))

    def validate(self, extra_validators=None):
        """The password is needed only when a key is made here."""
        if self.method.data == METHOD_CSR:
            self.password.validators = [Optional()]
        return super().validate(extra_validators)
