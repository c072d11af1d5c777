"""Extension objects, alone here so that nothing imports in a circle."""

from flask_babel import gettext
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .lazy_migrate import LazyMigrate
from .limiter import PortalLimiter
from .translatable import N_

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with named constraints, so migrations can alter them on SQLite."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = LazyMigrate()  # Flask-Migrate, imported when a migration or `portal db` needs it
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

# Throttling: counted in the database (portal.services.ratelimit registers `portal-db://`),
# so that every gunicorn worker sees the same counts; the memory storage would multiply the
# limit by the number of workers. PortalLimiter (portal/limiter.py) can skip whole blueprints.
limiter = PortalLimiter(
    key_func=get_remote_address, storage_uri="portal-db://", strategy="moving-window"
)


@login_manager.user_loader
def load_user(user_id: str):
    """The signed-in user from the session's id, or None when disabled or its password changed."""
    from .services.auth import load_user as load

    return load(user_id)
