"""Certificate authorities and users."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ...ca.keys import DEFAULT_KEY_TYPE, ED25519_LIMITS, KEY_TYPES
from . import choices
from .issue import KEY_TYPE_LABELS

ROLE_CHOICES = [("user", "User: their own certificates"), ("admin", "Admin: runs the CA")]


class CreateCAForm(FlaskForm):
    """A new root, or an intermediate under an existing CA."""

    name = StringField(
        "Short name", validators=[DataRequired(), Length(max=64)],
        description="Letters, digits, '.', '-' and '_'. It appears in CRL and CA URLs.",
    )
    common_name = StringField("Common name", validators=[Optional(), Length(max=64)],
                              description="Defaults to the short name.")
    organization = StringField("Organization", validators=[Optional(), Length(max=64)])
    parent = SelectField("Signed by", choices=[])
    key_type = SelectField(
        "Key type",
        choices=choices((name, KEY_TYPE_LABELS.get(name, name)) for name in KEY_TYPES),
        default=DEFAULT_KEY_TYPE, description=ED25519_LIMITS,
    )
    days = IntegerField("Validity (days)", validators=[Optional(), NumberRange(min=1)],
                        description="Leave empty for the default (10 years root, 5 years "
                                    "intermediate).")


class ImportCAForm(FlaskForm):
    """An existing CA's certificate and private key."""

    name = StringField("Short name", validators=[Optional(), Length(max=64)],
                       description="Defaults to the certificate's common name.")
    cert = FileField("CA certificate (PEM or DER)")
    key = FileField("Private key (PEM or DER)")
    key_password = PasswordField("Key password", validators=[Optional(), Length(max=1024)],
                                 render_kw={"autocomplete": "off"})


class CreateUserForm(FlaskForm):
    """A new account; leave the password empty to have one generated."""

    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    email = StringField("E-mail", validators=[Optional(), Length(max=254)])
    role = SelectField("Role", choices=choices(ROLE_CHOICES), default="user")
    password = PasswordField(
        "Password", validators=[Optional(), Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
        description="Leave empty to generate one; it is shown once.",
    )


class ActionForm(FlaskForm):
    """A bare form for one-button POST actions: only the CSRF token."""
