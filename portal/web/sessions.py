"""Sessions for the pages, checked against the database; none at all for the JSON API."""

from flask.sessions import SecureCookieSessionInterface

from ..services import auth
from .acme import ACME_PREFIX
from .api import API_PREFIX

# Requests that never read a cookie: the JSON API (a token) and ACME (a JWS per request).
_COOKIELESS = (API_PREFIX, ACME_PREFIX)

SESSION_ID = "_sid"  # the cookie's random session id; the database holds only its SHA-256
USER_ID = "_user_id"  # where Flask-Login keeps who is signed in


class PagesOnlySessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions whose sign-in must still be live in `web_sessions`.

    The cookie keeps Flask's session (the CSRF token, flashed messages) and, once signed in,
    a random session id. A signed-in cookie whose id has no row (signed out, disabled, role
    changed, password reset, idle or too old) opens as an empty session and is deleted, so a
    copy of it is worth nothing. An API or ACME request gets the null session: neither ever
    reads a cookie (a token, or the account's JWS, is its only credential), and each is spared
    the signature and the lookup.
    """

    _serializer: tuple = (None, None)  # (the keys it signs with, the serializer)

    def get_signing_serializer(self, app):
        """Flask's serializer, built once per secret key instead of on every request."""
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        built_for, serializer = self._serializer
        if built_for != keys:
            serializer = super().get_signing_serializer(app)
            self._serializer = (keys, serializer)
        return serializer

    def save_session(self, app, session, response):
        """Flask's, returning at once for an empty, unchanged session (most of /ping's)."""
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)

    def open_session(self, app, request):
        """No session for the API and ACME (the null session: writing to it is an error)."""
        if request.path.startswith(_COOKIELESS):
            return self.make_null_session(app)
        if "HTTP_COOKIE" not in request.environ and app.secret_key:
            return self.session_class()  # what Flask opens without a cookie, sooner
        session = super().open_session(app, request)
        if session is None or (USER_ID not in session and SESSION_ID not in session):
            return session
        if auth.is_live_session(session.get(SESSION_ID), session.get(USER_ID)):
            return session
        ended = self.session_class()
        ended.modified = True  # an empty, modified session: its cookie is deleted
        return ended
