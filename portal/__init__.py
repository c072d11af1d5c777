"""portal: a self-hosted certificate authority with a web front end."""

import os
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CA core imports portal.errors; keep this package free of Flask imports
    from flask import Flask

MIGRATIONS_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations"
)


def create_app(test_config: dict | None = None, *, web: bool = True) -> "Flask":
    """Build the application: config, extensions, blueprints, error handlers, CLI.

    `web=False` leaves out what only a request needs (blueprints, sign-in, CSRF, throttling,
    Flask-Babel): the `portal` commands run on that, and start in a third of the CPU.
    """
    from flask import Flask

    instance = os.environ.get("PORTAL_INSTANCE")
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance) if instance else None,
        instance_relative_config=True,
    )
    load_config(app, test_config)
    register_languages(app)
    register_proxies(app)
    register_extensions(app, web=web)
    if web:
        register_blueprints(app)
    register_cli(app)
    return app


def load_config(app: "Flask", test_config: dict | None) -> None:
    """Defaults, then instance/config.py, then PORTAL_* variables, then a test's overrides."""
    from . import config as config_module

    app.config.from_mapping(config_module.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(config_module.from_environment(os.environ))
    if test_config:
        app.config.update(test_config)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = config_module.sqlite_url(app.instance_path)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = config_module.engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQLALCHEMY_ENGINE_OPTIONS")
    )
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _read_instance_file(app, "secret-key") or secrets.token_hex(32)


def _read_instance_file(app: "Flask", name: str) -> str | None:
    path = os.path.join(app.instance_path, name)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def register_languages(app: "Flask") -> None:
    """The languages offered (PORTAL_LANGUAGES, checked) and the default, for pages and mails."""
    from .languages import parse_languages

    offered, default = parse_languages(
        app.config["PORTAL_LANGUAGES"], app.config["PORTAL_DEFAULT_LANGUAGE"]
    )
    app.extensions["portal.languages"] = offered  # in PORTAL_LANGUAGES order
    app.config["PORTAL_DEFAULT_LANGUAGE"] = default


def register_proxies(app: "Flask") -> None:
    """Believe X-Forwarded-For only from PORTAL_TRUSTED_PROXIES; refuse a setting that is wrong."""
    from .proxies import TrustedProxies, parse_trusted_proxies

    networks = parse_trusted_proxies(app.config.get("PORTAL_TRUSTED_PROXIES"))
    app.extensions["portal.trusted_proxies"] = networks
    app.wsgi_app = TrustedProxies(app.wsgi_app, networks)


def register_extensions(app: "Flask", *, web: bool = True) -> None:
    """Wire the database and migrations, and for the web CSRF, sign-in and throttling."""
    from . import database
    from .extensions import db, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    database.init_app(app)
    if not web:
        return
    from .limiter import limiter
    from .services import ratelimit  # noqa: F401  (registers the portal-db:// limits storage)
    from .web_extensions import csrf, login_manager

    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)


def register_blueprints(app: "Flask") -> None:
    """Mount the web areas."""
    from .web import register

    register(app)


def register_cli(app: "Flask") -> None:
    """Add the portal's commands to the app's command group."""
    from .cli import register

    register(app)
