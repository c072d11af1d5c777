"""Issuing from a CSR and generating a key for someone."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ...ca.keys import DEFAULT_KEY_TYPE, ED25519_LIMITS, KEY_TYPES
from ...ca.pkcs12 import COMPATIBLE, MODERN
from . import choices

PROFILE_CHOICES = [
    ("client", "Client: a person or a device signing in (clientAuth)"),
    ("server", "Server: a TLS web or API server (serverAuth)"),
]
KEY_TYPE_LABELS = {
    "ec-p256": "EC P-256 (recommended: fast and small)",
    "ec-p384": "EC P-384",
    "rsa-2048": "RSA 2048 (widest compatibility)",
    "rsa-3072": "RSA 3072",
    "rsa-4096": "RSA 4096 (slow to generate)",
    "ed25519": "Ed25519 (not for browsers, Firefox or Windows; modern .p12 only)",
}


class _CertificateOptions(FlaskForm):
    """The choices both ways of issuing share."""

    ca = SelectField("Issuing CA", choices=[])
    profile = SelectField("Profile", choices=choices(PROFILE_CHOICES), default="client")
    days = IntegerField(
        "Validity (days)", validators=[Optional(), NumberRange(min=1, max=20000)],
        description="Leave empty for the profile's default. Never past the CA's own expiry.",
    )


class IssueForm(_CertificateOptions):
    """A CSR, pasted or uploaded."""

    csr = TextAreaField(
        "Certificate signing request (PEM)", validators=[Optional(), Length(max=70_000)],
        render_kw={"rows": 10, "spellcheck": "false",
                   "placeholder": "-----BEGIN CERTIFICATE REQUEST-----"},
    )
    csr_file = FileField("…or upload a CSR file (PEM or DER)")
    step = HiddenField(default="preview")


class GenerateForm(_CertificateOptions):
    """Who the key is for, how strong, and how the bundle is protected."""

    common_name = StringField(
        "Common name (CN)", validators=[DataRequired(), Length(max=64)],
        description="A person's name for a client; the host name for a server.",
    )
    email = StringField("E-mail address", validators=[Optional(), Length(max=254)])
    sans = TextAreaField(
        "Other names (SANs)", validators=[Optional(), Length(max=10_000)],
        description="One per line: DNS:host.example.com, IP:192.0.2.10 or email:a@example.com.",
        render_kw={"rows": 3, "spellcheck": "false"},
    )
    key_type = SelectField(
        "Key type",
        choices=choices((name, KEY_TYPE_LABELS.get(name, name)) for name in KEY_TYPES),
        default=DEFAULT_KEY_TYPE, description=ED25519_LIMITS,
    )
    password = PasswordField(
        "Password for the file", validators=[DataRequired("A password is required.")],
        render_kw={"autocomplete": "new-password", "minlength": 8},
        description="At least 8 characters, no control characters; ASCII only for a "
                    "compatible file (Java opens no other). Send it to the person by another "
                    "channel.",
    )
    compatibility = RadioField(
        "Compatibility",
        choices=choices([
            (COMPATIBLE, "Compatible: 3DES, SHA-1 MAC. Imports everywhere, including macOS "
                         "Keychain, iOS, Android and older Windows and Java. EC or RSA keys "
                         "only; the password must be ASCII (Java)."),
            (MODERN, "Modern: AES-256, PBKDF2/SHA-256. Windows 10+, current browsers, "
                     "OpenSSL 3."),
        ]),
        default=COMPATIBLE,
    )
    output = RadioField(
        "Download as",
        choices=choices([("p12", "PKCS#12 (.p12) for people and browsers"),
                         ("pem", "PEM for servers: encrypted key, certificate and chain")]),
        default="p12",
    )
