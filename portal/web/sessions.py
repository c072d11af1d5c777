"""Cookie sessions for the pages; none at all for the JSON API, which takes only bearer tokens."""

from flask.sessions import SecureCookieSessionInterface

from .api import bp as api_bp

API_PREFIX = api_bp.url_prefix + "/"


class PagesOnlySessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that an API request gets the null session.

    The API never reads a cookie (a token is the only credential it takes, so no cross-site
    request can act for anyone), and verifying the signature of one cost every API call.
    """

    def open_session(self, app, request):
        """No session for the API (the null session: writing to it is an error); else a cookie."""
        if request.path.startswith(API_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)
