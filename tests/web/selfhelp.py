"""Helpers for the self-service tests: people, their certificates, and errors read off a page."""

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from sqlalchemy import update

from portal.extensions import db
from portal.models import Certificate
from portal.services import keygen
from portal.services.users import create_user
from tests.web.conftest import USER_PASSWORD, HttpsClient, csrf_token, sign_in

P12_PASSWORD = "p12-password-0123"


class _FieldErrors(HTMLParser):
    """Collects, per form field name, the error sentences shown inside its `div.field`."""

    def __init__(self):
        super().__init__()
        self.stack: list[dict | None] = []  # one entry per open <div>: a field record or None
        self.fields: dict[str, list[str]] = {}
        self.form_errors: list[str] = []
        self._capture: list[str] | None = None
        self._into: list[str] | None = None

    def _field(self) -> dict | None:
        return next((entry for entry in reversed(self.stack) if entry is not None), None)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "div":
            self.stack.append({"names": [], "errors": []} if "field" in classes else None)
            if "alert-error" in classes:
                self._capture, self._into = [], self.form_errors
        field = self._field()
        if field is not None and attributes.get("name"):
            field["names"].append(attributes["name"])
        if tag == "p" and "error" in classes and field is not None:
            self._capture, self._into = [], field["errors"]

    def handle_data(self, data):
        if self._capture is not None:
            self._capture.append(data)

    def _close_capture(self):
        if self._capture is not None:
            self._into.append("".join(self._capture).strip())
            self._capture = None

    def handle_endtag(self, tag):
        if tag == "p":
            self._close_capture()
        if tag == "div" and self.stack:
            self._close_capture()
            entry = self.stack.pop()
            if entry is not None:
                for name in entry["names"]:
                    self.fields.setdefault(name, []).extend(entry["errors"])


def page_errors(body: str) -> tuple[dict[str, list[str]], list[str]]:
    """(errors by field name, errors about the whole form) on a rendered page."""
    parser = _FieldErrors()
    parser.feed(body)
    return {name: errors for name, errors in parser.fields.items() if errors}, parser.form_errors


def person(name: str, *, email: str | None = None, role: str = "user"):
    """An account with the shared test password."""
    user, _ = create_user(name, role=role, password=USER_PASSWORD, email=email, actor="test")
    return user


def signed_in_client(app, username: str, password: str = USER_PASSWORD):
    """A fresh HTTPS client of the same app, signed in as `username`."""
    app.test_client_class = HttpsClient
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    response = sign_in(client, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def certificate_for(user, *, common_name: str | None = None) -> Certificate:
    """A client certificate owned by `user`, issued directly by the service."""
    bundle = keygen.generate_bundle(
        common_name=common_name or user.username, email=user.email, profile_name="client",
        password=P12_PASSWORD, owner_id=user.id, actor="test",
    )
    return bundle.certificate


def near_expiry(certificate: Certificate, *, days_left: float = 10, lifetime: int = 365):
    """Move a certificate's validity so that it ends in `days_left` days (renewable)."""
    now = datetime.now(UTC)
    not_after = now + timedelta(days=days_left)
    db.session.execute(update(Certificate).where(Certificate.id == certificate.id).values(
        not_before=not_after - timedelta(days=lifetime), not_after=not_after))
    db.session.commit()
    db.session.expire_all()


def post_form(client, path: str, data: dict, *, token_from: str | None = None, **kwargs):
    """POST a form with the CSRF token of the page it lives on."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_from or path)},
                       **kwargs)
