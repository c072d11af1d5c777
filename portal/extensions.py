"""Extension objects, alone here so that nothing imports in a circle: the database, migrations."""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .lazy_migrate import LazyMigrate

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


def __getattr__(name: str):
    # What only requests need lives in portal.web_extensions and portal.limiter, so that the
    # commands do not import Flask-WTF, Flask-Login or Flask-Limiter; the old names still work.
    if name in ("csrf", "login_manager"):
        from . import web_extensions

        return getattr(web_extensions, name)
    if name == "limiter":
        from .limiter import limiter

        return limiter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
