"""Issuing from a CSR and generating a key for someone."""

from flask_babel import lazy_gettext as _l
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
    ("client", _l("Client: a person or a device signing in (clientAuth)")),
    ("server", _l("Server: a TLS web or API server (serverAuth)")),
]
KEY_TYPE_LABELS = {
    "ec-p256": _l("EC P-256 (recommended: fast and small)"),
    "ec-p384": _l("EC P-384"),
    "rsa-2048": _l("RSA 2048 (widest compatibility)"),
    "rsa-3072": _l("RSA 3072"),
    "rsa-4096": _l("RSA 4096 (slow to generate)"),
    "ed25519": _l("Ed25519 (not for browsers, Firefox or Windows; modern .p12 only)"),
}


class _CertificateOptions(FlaskForm):
    """The choices both ways of issuing share."""

    ca = SelectField(_l("Issuing CA"), choices=[])
    profile = SelectField(_l("Profile"), choices=choices(PROFILE_CHOICES), default="client")
    days = IntegerField(
        _l("Validity (days)"), validators=[Optional(), NumberRange(min=1, max=20000)],
        description=_l("Leave empty for the profile's default. Never past the CA's own expiry."),
    )


class IssueForm(_CertificateOptions):
    """A CSR, pasted or uploaded."""

    csr = TextAreaField(
        _l("Certificate signing request (PEM)"), validators=[Optional(), Length(max=70_000)],
        render_kw={"rows": 10, "spellcheck": "false",
                   "placeholder": "-----BEGIN CERTIFICATE REQUEST-----"},
    )
    csr_file = FileField(_l("…or upload a CSR file (PEM or DER)"))
    step = HiddenField(default="preview")


class GenerateForm(_CertificateOptions):
    """Who the key is for, how strong, and how the bundle is protected."""

    common_name = StringField(
        _l("Common name (CN)"), validators=[DataRequired(), Length(max=64)],
        description=_l("A person's name for a client; the host name for a server."),
    )
    email = StringField(_l("E-mail address"), validators=[Optional(), Length(max=254)])
    sans = TextAreaField(
        _l("Other names (SANs)"), validators=[Optional(), Length(max=10_000)],
        description=_l("One per line: DNS:host.example.com, IP:192.0.2.10 or email:a@example.com."),
        render_kw={"rows": 3, "spellcheck": "false"},
    )
    key_type = SelectField(
        _l("Key type"),
        choices=choices((name, KEY_TYPE_LABELS.get(name, name)) for name in KEY_TYPES),
        default=DEFAULT_KEY_TYPE, description=_l(ED25519_LIMITS),
    )
    password = PasswordField(
        _l("Password for the file"), validators=[DataRequired(_l("A password is required."))],
        render_kw={"autocomplete": "new-password", "minlength": 8},
        description=_l("At least 8 characters, no control characters; ASCII only for a "
                    "compatible file (Java opens no other). Send it to the person by another "
                    "channel."),
    )
    compatibility = RadioField(
        _l("Compatibility"),
        choices=choices([
            (COMPATIBLE, _l("Compatible: 3DES, SHA-1 MAC. Imports everywhere, including macOS "
                         "Keychain, iOS, Android and older Windows and Java. EC or RSA keys "
                         "only; the password must be ASCII (Java).")),
            (MODERN, _l("Modern: AES-256, PBKDF2/SHA-256. Windows 10+, current browsers, "
                     "OpenSSL 3.")),
        ]),
        default=COMPATIBLE,
    )
    output = RadioField(
        _l("Download as"),
        choices=choices([("p12", _l("PKCS#12 (.p12) for people and browsers")),
                         ("pem", _l("PEM for servers: encrypted key, certificate and chain"))]),
        default="p12",
    )
