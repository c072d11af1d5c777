"""Forms (Flask-WTF: each carries a CSRF token) and the helper that puts errors on their fields."""

from flask_wtf import FlaskForm
from wtforms import SelectChoice

from ...errors import PortalError


def show_error(form: FlaskForm, error: PortalError, aliases: dict[str, str] | None = None) -> None:
    """Attach a service's error to the field it concerns, or to the form as a whole."""
    from ..i18n import translate_error

    message = translate_error(error)
    name = (aliases or {}).get(error.field or "", error.field)
    field = form._fields.get(name) if name else None
    if field is not None and field.type not in ("CSRFTokenField", "HiddenField"):
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)


def choices(pairs) -> list[SelectChoice]:
    """Select or radio choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]
