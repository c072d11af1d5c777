"""Pages anyone may see."""

from flask import Blueprint, render_template_string

bp = Blueprint("public", __name__)

_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>portal</title></head>
<body><h1>portal</h1><p>A self-hosted certificate authority.</p>
<ul><li><a href="/ca.crt">CA certificate</a></li><li><a href="/crl.der">CRL</a></li></ul>
</body></html>"""


@bp.get("/")
def index():
    """The front page."""
    return render_template_string(_INDEX)
