"""Self-service: requests, renewals, downloads, decisions, policies and enrollment links.

Fields shared with the admin's pages are the same field definitions (the password and the
compatibility choice of the generate page, its key types, the CSR box of the issue page).
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ...services.enrollment import DEFAULT_HOURS, MAX_HOURS
from ...services.policy import CN_ANY, CN_USERNAME, EMAIL_NONE, EMAIL_OWN
from ...services.selfservice import METHOD_CSR, METHOD_GENERATE, USER_REASONS
from . import choices
from .certs import REASON_LABELS
from .issue import PROFILE_CHOICES, GenerateForm, IssueForm

METHOD_CHOICES = [
    (METHOD_GENERATE, _l("The portal makes the key: you download a password-protected .p12 file")),
    (METHOD_CSR, _l("I have a certificate signing request (CSR): my key never leaves my machine")),
]


class _KeyChoice(FlaskForm):
    """How the key is made: here (with a key type) or by the person (their CSR)."""

    method = RadioField(_l("How the key is made"), choices=choices(METHOD_CHOICES),
                        default=METHOD_GENERATE)
    key_type = GenerateForm.key_type
    csr = IssueForm.csr
    csr_file = IssueForm.csr_file


class RequestForm(_KeyChoice):
    """A user's request for a certificate."""

    profile = SelectField(_l("Kind of certificate"), choices=[])
    common_name = StringField(_l("Common name (CN)"), validators=[Optional(), Length(max=64)])
    email = StringField(_l("E-mail address"), validators=[Optional(), Length(max=254)])
    sans = GenerateForm.sans
    days = IntegerField(
        _l("Validity (days)"), validators=[Optional(), NumberRange(min=1, max=20000)],
        description=_l("Leave empty for the profile's default."),
    )


class RenewForm(_KeyChoice):
    """A renewal: a new key made here, or a new CSR."""


class DownloadForm(FlaskForm):
    """The .p12's password and compatibility, chosen when the key is made."""

    password = GenerateForm.password
    compatibility = GenerateForm.compatibility


class SelfRevokeForm(FlaskForm):
    """The reasons a person may give for revoking their own certificate."""

    reason = SelectField(
        _l("Reason"), choices=choices((name, REASON_LABELS[name]) for name in USER_REASONS),
        default="superseded",
    )
    confirm = BooleanField(
        _l("I understand that revocation cannot be undone"),
        validators=[DataRequired(_l("Tick the box to confirm the revocation."))],
    )


class DecisionForm(FlaskForm):
    """An admin's decision on a request, with a comment the requester sees."""

    comment = TextAreaField(
        _l("Comment for the requester"), validators=[Optional(), Length(max=2000)],
        description=_l("Optional when approving; required when rejecting."),
        render_kw={"rows": 3},
    )


class PolicyForm(FlaskForm):
    """One profile's self-service rules."""

    self_service = BooleanField(_l("Users may request this kind of certificate"))
    approval = RadioField(_l("When a user asks"), choices=choices([
        ("admin", _l("An admin approves each request in the queue")),
        ("auto", _l("Issued at once, without approval")),
    ]), default="admin")
    common_name_rule = SelectField(_l("Common name (CN)"), choices=choices([
        (CN_USERNAME, _l("Their user name")), (CN_ANY, _l("Any name they type")),
    ]))
    email_rule = SelectField(_l("E-mail address"), choices=choices([
        (EMAIL_OWN, _l("Their own e-mail address, or none")), (EMAIL_NONE, _l("No e-mail address")),
    ]))
    dns_suffixes = StringField(
        _l("DNS names under"), validators=[Optional(), Length(max=4000)],
        description=_l("Comma-separated domains, e.g. lab.example.com. Empty: no DNS names."),
    )
    ip_networks = StringField(
        _l("IP addresses in"), validators=[Optional(), Length(max=4000)],
        description=_l("Comma-separated networks, e.g. 192.0.2.0/24. Empty: no IP addresses."),
    )
    max_days = IntegerField(
        _l("Longest validity (days)"), validators=[Optional(), NumberRange(min=1, max=20000)],
        description=_l("Empty: the profile's default and the portal's cap apply."),
    )


class EnrollLinkForm(FlaskForm):
    """Who an enrollment link is for, and how long it works."""

    common_name = StringField(_l("Common name (CN)"), validators=[DataRequired(), Length(max=64)],
                              description=_l("The person's name, as the certificate will show it."))
    email = StringField(_l("E-mail address"), validators=[Optional(), Length(max=254)])
    profile = SelectField(_l("Profile"), choices=choices(PROFILE_CHOICES), default="client")
    key_type = GenerateForm.key_type
    hours = IntegerField(
        _l("Link valid for (hours)"), default=DEFAULT_HOURS,
        validators=[DataRequired(), NumberRange(min=1, max=MAX_HOURS)],
        description=_l("Default %(hours)d hours; at most %(days)d days.", hours=DEFAULT_HOURS,
                        days=MAX_HOURS // 24),
    )
    days = IntegerField(_l("Certificate validity (days)"),
                        validators=[Optional(), NumberRange(min=1, max=20000)],
                        description=_l("Leave empty for the profile's default."))
