"""The web front end: one blueprint per area."""

from flask import Flask


def register(app: Flask) -> None:
    """Register every blueprint."""
    from . import converters
    from .sessions import PagesOnlySessionInterface

    converters.init_app(app)

    app.session_interface = PagesOnlySessionInterface()
    from .health import bp as health_bp
    from .ping import bp as ping_bp
    from .public import bp as public_bp
    from .publish import bp as publish_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(publish_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(ping_bp)

    from .areas import register_areas

    register_areas(app)

    from .api import bp as api_bp
    from .tokens import bp as tokens_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(tokens_bp)

    from .account_email import bp as account_email_bp  # notifications (issue 17)
    from .webhooks import bp as webhooks_bp

    app.register_blueprint(webhooks_bp)
    app.register_blueprint(account_email_bp)

    from .ocsp import bp as ocsp_bp  # the OCSP responder (issue 16)

    app.register_blueprint(ocsp_bp)
