"""Pages anyone may see."""

from flask import Blueprint

bp = Blueprint("public", __name__)

# The front page "/" is the admin dashboard (portal.web.dashboard); the sign-in page links
# to the CA certificate and the CRL for anyone who needs them.
