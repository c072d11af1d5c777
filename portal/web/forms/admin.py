"""Certificate authorities and users."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ...ca.keys import DEFAULT_KEY_TYPE, ED25519_LIMITS, KEY_TYPES
from . import choices
from .issue import KEY_TYPE_LABELS

ROLE_CHOICES = [("user", _l("User: their own certificates")), ("admin", _l("Admin: runs the CA"))]


class CreateCAForm(FlaskForm):
    """A new root, or an intermediate under an existing CA."""

    name = StringField(
        _l("Short name"), validators=[DataRequired(), Length(max=64)],
        description=_l("Letters, digits, '.', '-' and '_'. It appears in CRL and CA URLs."),
    )
    common_name = StringField(_l("Common name"), validators=[Optional(), Length(max=64)],
                              description=_l("Defaults to the short name."))
    organization = StringField(_l("Organization"), validators=[Optional(), Length(max=64)])
    parent = SelectField(_l("Signed by"), choices=[])
    key_type = SelectField(
        _l("Key type"),
        choices=choices((name, KEY_TYPE_LABELS.get(name, name)) for name in KEY_TYPES),
        default=DEFAULT_KEY_TYPE, description=_l(ED25519_LIMITS),
    )
    days = IntegerField(_l("Validity (days)"), validators=[Optional(), NumberRange(min=1)],
                        description=_l("Leave empty for the default (10 years root, 5 years "
                                    "intermediate)."))


class ImportCAForm(FlaskForm):
    """An existing CA's certificate and private key."""

    name = StringField(_l("Short name"), validators=[Optional(), Length(max=64)],
                       description=_l("Defaults to the certificate's common name."))
    cert = FileField(_l("CA certificate (PEM or DER)"))
    key = FileField(_l("Private key (PEM or DER)"))
    key_password = PasswordField(_l("Key password"), validators=[Optional(), Length(max=1024)],
                                 render_kw={"autocomplete": "off"})


class CreateUserForm(FlaskForm):
    """A new account; leave the password empty to have one generated."""

    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    role = SelectField(_l("Role"), choices=choices(ROLE_CHOICES), default="user")
    password = PasswordField(
        _l("Password"), validators=[Optional(), Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
        description=_l("Leave empty to generate one; it is shown once."),
    )


class ActionForm(FlaskForm):
    """A bare form for one-button POST actions: only the CSRF token."""
