"""The portal in ja, ko and zh-Hans over HTTP: by Accept-Language, then by the switcher.

Every expected word is looked up in the catalogue (tests/web/i18n_pages.py), so these tests hold
while the catalogues are being translated and once they are complete; untranslated entries
simply show the English msgid, which the leak check allows only for entries still empty.
"""

import pytest

from portal.extensions import db
from portal.models import User
from portal.services import enrollment, issuance
from portal.services.authorities import create_ca
from portal.services.users import create_user
from tests.pki import make_csr
from tests.web.conftest import ADMIN_PASSWORD, USER_PASSWORD, csrf_token, sign_in
from tests.web.i18n_pages import ACCEPT, LANGUAGES, assert_page_in, html_lang, leaks, tr

pytestmark = pytest.mark.parametrize("language", LANGUAGES)


@pytest.fixture
def people(app):
    """A CA whose name is no word of the catalogue, an admin and a plain user."""
    create_ca("Lab-Issuing-7", key_type="ec-p256", actor="test")
    create_user("alice", role="admin", password=ADMIN_PASSWORD, email="alice@example.com",
                actor="test")
    create_user("bob", role="user", password=USER_PASSWORD, actor="test")
    return app


def _speaking(web, language):
    web.environ_base["HTTP_ACCEPT_LANGUAGE"] = ACCEPT[language]
    return web


@pytest.fixture
def certificate(people):
    return issuance.issue_from_csr(make_csr("web.example.org"), "server", actor="test")


def test_the_login_page(web, people, language):
    page = _speaking(web, language).get("/login")
    assert page.status_code == 200
    assert_page_in(page.get_data(as_text=True), language, ["login.html"],
                   "Sign in", "Certificate authority", "User name", "Password")


def test_a_wrong_password_is_refused_in_the_language(web, people, language):
    _speaking(web, language)
    page = sign_in(web, "alice", "wrong-password-000")
    assert page.status_code == 200
    assert_page_in(page.get_data(as_text=True), language, ["login.html"],
                   "Wrong user name or password.")


def test_the_admin_pages(web, people, certificate, language):
    _speaking(web, language)
    assert sign_in(web, "alice", ADMIN_PASSWORD).status_code == 302
    pages = [
        ("/", ["dashboard.html"], ["Dashboard", "Recent activity", "Certificate authorities"]),
        ("/certificates", ["certs/list.html"], ["Certificates", "Search", "Revoke selected"]),
        (f"/certificates/{certificate.id}", ["certs/detail.html"],
         ["Details", "Revoke certificate", "Issuer"]),
        ("/issue", ["issue.html"], ["Issue a certificate from a CSR", "Issuing CA"]),
        ("/generate", ["generate.html"],
         ["Generate a key and certificate for someone", "Importing the .p12", "Common name (CN)"]),
    ]
    for path, templates, expected in pages:
        page = web.get(path)
        assert page.status_code == 200, path
        assert_page_in(page.get_data(as_text=True), language, templates, *expected)


def test_the_self_service_area(web, people, language):
    _speaking(web, language)
    assert sign_in(web, "bob", USER_PASSWORD).status_code == 302
    account = web.get("/account")
    assert_page_in(account.get_data(as_text=True), language, ["self/account.html"],
                   "Your certificates", "Request a certificate")
    request_page = web.get("/account/request")
    assert_page_in(request_page.get_data(as_text=True), language,
                   ["self/request.html", "self/_policy.html"],
                   "What you may request", "What happens next", "How the key is made")


def test_an_enrollment_link(web, people, language):
    _row, token = enrollment.create_link(common_name="Jane Doe", actor="test")
    page = _speaking(web, language).get(f"/enroll/{token}")
    assert page.status_code == 200
    assert_page_in(page.get_data(as_text=True), language,
                   ["enroll/redeem.html", "self/_bundle.html"],
                   "Get your certificate", "Download my .p12", "Link works")
    refused = web.get("/enroll/" + "A" * 43)
    assert refused.status_code == 404
    assert_page_in(refused.get_data(as_text=True), language, ["enroll/refused.html"],
                   "This link is not valid")


def test_a_policy_error_lands_on_its_field_in_the_language(web, people, language):
    _speaking(web, language)
    assert sign_in(web, "alice", ADMIN_PASSWORD).status_code == 302
    page = web.post("/users", data={"username": "carol", "role": "user", "password": "short",
                                    "csrf_token": csrf_token(web, "/users")})
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    expected = tr(language, "the password must have at least %(min_password_length)s characters",
                  min_password_length=10)
    field = html.split('id="password"', 1)[1].split("</div>", 1)[0]
    assert f'<p class="error" role="alert">{expected}</p>' in field
    assert html_lang(html) == {"ja": "ja", "ko": "ko", "zh_Hans": "zh-Hans"}[language]


def test_a_json_api_error(client, people, language):
    response = client.get("/api/v1/certificates",
                          headers={"Accept-Language": ACCEPT[language]})
    assert response.status_code == 401
    assert response.get_json() == {
        "status": 401, "field": None,
        "message": tr(language, "send an API token: Authorization: Bearer <token>"),
    }
    bad = client.get("/api/v1/certificates", headers={
        "Accept-Language": ACCEPT[language], "Authorization": "Bearer nope"})
    assert bad.get_json()["message"] == tr(
        language, "the API token is unknown or revoked, or its user is disabled")


def test_the_switcher_keeps_a_visitor_s_choice_in_a_cookie(web, people, language):
    _speaking(web, "en")  # the browser asks for English: the switcher overrides it
    assert html_lang(web.get("/login").get_data(as_text=True)) == "en"
    chosen = web.post("/language", data={"language": language, "next": "/login",
                                         "csrf_token": csrf_token(web)})
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/login"
    cookie = web.get_cookie("portal_language")
    assert cookie is not None and cookie.value == language and cookie.http_only
    page = web.get("/login").get_data(as_text=True)
    assert_page_in(page, language, ["login.html"], "Sign in")


def test_the_switcher_needs_its_csrf_token_and_a_known_language(web, people, language):
    csrf_token(web)
    assert web.post("/language", data={"language": language}).status_code == 400
    refused = web.post("/language", data={"language": "fr", "csrf_token": csrf_token(web)})
    assert refused.status_code == 400
    assert web.get_cookie("portal_language") is None
    away = web.post("/language", data={"language": language, "next": "//evil.example/",
                                       "csrf_token": csrf_token(web)})
    assert away.headers["Location"] == "/"


def test_a_signed_in_choice_is_kept_on_the_account(web, app, people, language):
    _speaking(web, "en")
    assert sign_in(web, "bob", USER_PASSWORD).status_code == 302
    web.post("/language", data={"language": language, "next": "/account",
                                "csrf_token": csrf_token(web, "/account")})
    assert db.session.scalar(db.select(User.language).filter_by(username="bob")) == language
    # another browser, asking for English and without the cookie: the account decides
    other = app.test_client()
    other.environ_base.update(HTTP_REFERER="https://localhost/", HTTP_ACCEPT_LANGUAGE="en")
    other.open  # noqa: B018 (the HTTPS client class comes from the web fixture)
    assert sign_in(other, "bob", USER_PASSWORD).status_code == 302
    page = other.get("/account").get_data(as_text=True)
    assert_page_in(page, language, ["self/account.html"], "Your certificates")
    assert leaks(page, language, ["self/account.html"]) == []
