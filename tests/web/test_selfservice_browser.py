"""Self-service in Chromium: a user requests a key, an admin approves, the .p12 reaches /ping.

One `portal serve` (gunicorn over HTTPS) and one headless Chromium for the module; the user and
the admin each have their own browser context (their own cookies), and the enrollment link is
opened in a third one, signed in as nobody. Screenshots of the new pages go to
artifacts/screenshots/ (not committed).
"""

import re
import subprocess

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.conftest import ROOT, require_program
from tests.e2e.browser import follow, playwright_chromium, sign_in, site_with_two_people
from tests.web.axe import assert_accessible

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
ADMIN_PASSWORD = "browser-admin-pass-6"
USER_PASSWORD = "browser-user-pass-6"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The portal over HTTPS, with an admin (ada) and a user (bob)."""
    with site_with_two_people(tmp_path_factory.mktemp("selfservice"), ADMIN_PASSWORD,
                              USER_PASSWORD) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright."""
    with playwright_chromium() as instance:
        yield instance


def _tab(browser, site):
    context = browser.new_context(base_url=site["origin"], ignore_https_errors=True,
                                  accept_downloads=True, viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())
    return tab


def shot(tab, name: str) -> None:
    """Save a full-page screenshot of what the person sees; axe must find nothing serious."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert_accessible(tab, name)


def _ping(site, p12, password) -> tuple[str, int]:
    """curl /ping presenting the .p12; (body, HTTP status)."""
    result = subprocess.run(
        [require_program("curl"), "-s", "--cacert", str(site["instance"] / "client-ca.pem"),
         "--cert-type", "P12", "--cert", f"{p12}:{password}", "-w", "\n%{http_code}",
         f"{site['origin']}/ping"],
        capture_output=True, text=True, check=True,
    )
    body, _, code = result.stdout.rpartition("\n")
    return body, int(code)


def test_request_approve_download_and_ping(browser, site):
    user, admin = _tab(browser, site), _tab(browser, site)
    sign_in(user, "bob", USER_PASSWORD)
    assert user.url.endswith("/account")
    shot(user, "20-account-empty")
    user.click("a:has-text('Request a certificate') >> nth=-1")
    assert user.input_value("#common_name") == "bob"
    assert user.input_value("#email") == "bob@example.com"
    # Only the parts for a key made here show, once the page's script has run: is_visible()
    # does not wait, and right after the click it raced DOMContentLoaded (a failure's
    # screenshot showed the settled page).
    user.wait_for_selector("#csr", state="hidden")
    user.check("input[name=method][value=csr]")
    assert user.is_visible("#csr") and not user.is_visible("#common_name")
    user.check("input[name=method][value=generate]")
    shot(user, "21-request")
    user.fill("#common_name", "alice")  # the default policy: only one's own user name
    user.click("button:has-text('Send request')")
    assert "must be your user name" in user.inner_text(".has-error")
    user.fill("#common_name", "bob")
    user.click("button:has-text('Send request')")
    user.wait_for_selector(".banner-warn:has-text('Waiting for an admin')")
    shot(user, "22-request-pending")

    sign_in(admin, "ada", ADMIN_PASSWORD)
    assert admin.inner_text(".nav-count") == "1"
    admin.goto("/requests")
    shot(admin, "23-requests")
    follow(admin, "a:has-text('Review')")
    admin.fill("#comment", "Approved for the lab VPN.")
    shot(admin, "24-request-review")
    admin.click("button:has-text('Approve')")
    admin.wait_for_selector(".alert-success:has-text('approved')")

    user.goto("/account")
    assert "Approved for the lab VPN." in user.inner_text("table")
    shot(user, "25-account-approved")
    follow(user, "a:has-text('Choose a password and download')")
    user.click("#suggest-password")
    password = user.input_value("#password")
    assert len(password) == 20
    user.check("input[name=compatibility][value=compatible]")
    shot(user, "26-download")
    with user.expect_download() as download_info:
        user.click("button:has-text('Download .p12')")
    p12 = site["folder"] / "bob.p12"
    download_info.value.save_as(p12)
    bundle = pkcs12.load_pkcs12(p12.read_bytes(), password.encode())
    assert bundle.cert.certificate.subject.rfc4514_string() == "CN=bob"
    assert _ping(site, p12, password) == ("pong", 200)

    user.goto("/account")
    user.wait_for_selector("a.row-link:has-text('bob')")
    shot(user, "27-account")
    follow(user, "a.row-link:has-text('bob') >> nth=0")
    shot(user, "28-certificate")
    user.select_option("#reason", "cessationOfOperation")
    user.check("#confirm")
    user.click("button:has-text('Revoke certificate')")
    user.wait_for_selector(".banner-danger:has-text('Revoked')")
    body, code = _ping(site, p12, password)
    assert code == 403 and "revoked" in body
    user.context.close()
    admin.context.close()


def test_policies_and_an_enrollment_link(browser, site):
    admin, stranger = _tab(browser, site), _tab(browser, site)
    sign_in(admin, "ada", ADMIN_PASSWORD)
    admin.goto("/policies?profile=client")
    shot(admin, "29-policies")
    admin.goto("/enrollment")
    admin.fill("#common_name", "Jane Doe")
    admin.fill("#email", "jane@example.com")
    assert admin.input_value("#hours") == "72"
    admin.click("button:has-text('Create the link')")
    link = admin.inner_text("#new-link")
    token = link.rsplit("/", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    shot(admin, "30-enrollment-links")

    path = "/enroll/" + token
    stranger.goto(path)
    assert "Jane Doe" in stranger.inner_text(".enroll-card")
    stranger.fill("#password", "jane-password-1")
    stranger.check("input[name=compatibility][value=modern]")
    shot(stranger, "31-enroll")
    with stranger.expect_download() as download_info:
        stranger.click("button:has-text('Download my .p12')")
    p12 = site["folder"] / "jane.p12"
    download_info.value.save_as(p12)
    assert _ping(site, p12, "jane-password-1") == ("pong", 200)
    stranger.goto(path)
    assert "already used" in stranger.inner_text(".enroll-card")
    shot(stranger, "32-enroll-used")
    admin.goto("/enrollment")
    assert "used" in admin.inner_text("table")
    log = (site["instance"] / "serve.log").read_text()
    assert "/enroll/[token]" in log and token not in log  # the access log keeps no token
    admin.context.close()
    stranger.context.close()
