"""The extensions only requests need: CSRF protection and sign-in (the commands do without)."""

from flask_babel import gettext
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from .translatable import N_

csrf = CSRFProtect()


# Sign-in: Flask-Login keeps who is signed in; pages that need it send people to auth.login.
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = N_("Please sign in to continue.")
login_manager.localize_callback = gettext  # flashed in the reader's language
login_manager.login_message_category = "info"
# No binding to the client's address ("strong" protection): Flask-Login reads it from
# X-Forwarded-For, which anyone can send. Sessions live in the database instead (web/sessions.py).
login_manager.session_protection = None


@login_manager.user_loader
def load_user(user_id: str):
    """The signed-in user from the session's id, or None when disabled or its password changed."""
    from .services.auth import load_user as load

    return load(user_id)
