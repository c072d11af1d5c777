"""mod_wsgi's entry point (`WSGIScriptAlias / .../portal/wsgi.py`), from `portal webserver-config`.

mod_wsgi gives a daemon process no environment of its own: the site's `SetEnv PORTAL_INSTANCE`
reaches only each request's environ. So the portal is built on the first request, from the
PORTAL_* values there (a client cannot add one: its headers all arrive as HTTP_*). gunicorn
uses the project's top-level wsgi.py instead.
"""

import os
import threading

from portal import create_app

_lock = threading.Lock()
_app = None


def _portal(environ: dict):
    """The portal of this process, built once from the first request's PORTAL_* settings."""
    global _app
    if _app is None:
        with _lock:
            if _app is None:
                for name, value in environ.items():
                    if name.startswith("PORTAL_") and isinstance(value, str):
                        os.environ[name] = value
                _app = create_app()
    return _app


def application(environ, start_response):
    """The WSGI callable mod_wsgi looks for."""
    return _portal(environ)(environ, start_response)
