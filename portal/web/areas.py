"""The admin portal's areas, its error pages, its response headers and its template helpers."""

import os

from flask import Flask

WEB_FOLDER = os.path.dirname(os.path.abspath(__file__))


def register_areas(app: Flask) -> None:
    """Register the portal's pages and what every page shares."""
    from . import errors, filters, security
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .cas import bp as cas_bp
    from .certs import bp as certs_bp
    from .dashboard import bp as dashboard_bp
    from .issue import bp as issue_bp
    from .users import bp as users_bp

    # The pages' templates and static files live beside their blueprints, in portal/web.
    app.template_folder = os.path.join(WEB_FOLDER, "templates")
    app.static_folder = os.path.join(WEB_FOLDER, "static")
    security.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    for blueprint in (auth_bp, dashboard_bp, certs_bp, issue_bp, cas_bp, users_bp, audit_bp):
        app.register_blueprint(blueprint)

    from . import approvals, enroll, selfservice

    for blueprint in (selfservice.bp, approvals.bp, approvals.policies_bp, enroll.admin_bp,
                      enroll.bp):
        app.register_blueprint(blueprint)
