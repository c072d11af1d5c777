"""The web front end: one blueprint per area, all registered here."""

import os

from flask import Flask

WEB_FOLDER = os.path.dirname(os.path.abspath(__file__))


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

    # The admin portal's areas, and what every page shares: headers, error pages, filters.
    from . import approvals, enroll, errors, filters, i18n, security, selfservice
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .cas import bp as cas_bp
    from .certs import bp as certs_bp
    from .dashboard import bp as dashboard_bp
    from .issue import bp as issue_bp
    from .reissue import bp as reissue_bp
    from .users import bp as users_bp

    # The pages' templates and static files live beside their blueprints, in portal/web.
    app.template_folder = os.path.join(WEB_FOLDER, "templates")
    app.static_folder = os.path.join(WEB_FOLDER, "static")
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    for blueprint in (auth_bp, dashboard_bp, certs_bp, issue_bp, cas_bp, users_bp, audit_bp,
                      selfservice.bp, approvals.bp, approvals.policies_bp, enroll.admin_bp,
                      enroll.bp, reissue_bp):
        app.register_blueprint(blueprint)

    from .language import bp as language_bp  # the language switcher (issue 18)

    app.register_blueprint(language_bp)

    from .api import bp as api_bp
    from .tokens import bp as tokens_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(tokens_bp)

    from .account_email import bp as account_email_bp  # notifications (issue 17)
    from .webhooks import bp as webhooks_bp

    app.register_blueprint(webhooks_bp)
    app.register_blueprint(account_email_bp)

    from .acme import bp as acme_bp  # the ACME server (issue 15)
    from .acme_admin import bp as acme_admin_bp

    app.register_blueprint(acme_bp)
    app.register_blueprint(acme_admin_bp)

    from .ocsp import bp as ocsp_bp  # the OCSP responder (issue 16)

    app.register_blueprint(ocsp_bp)
