"""The web front end: one blueprint per area."""

from flask import Flask


def register(app: Flask) -> None:
    """Register every blueprint."""
    from .public import bp as public_bp

    app.register_blueprint(public_bp)
