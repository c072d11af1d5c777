"""A person in Chromium: sign in, issue from a CSR, generate a .p12, revoke, find it in the list.

One browser and one `portal serve` (gunicorn over HTTPS, two workers) for the whole module.
Each step saves a screenshot to artifacts/screenshots/ (not committed) for people to look at.
"""

import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.conftest import ROOT, run_portal
from tests.e2e.browser import follow, playwright_chromium
from tests.e2e.servers import portal_serve
from tests.pki import make_csr
from tests.web.axe import assert_accessible

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "browser-admin-pass-1"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The portal served over HTTPS on a free port, with an admin; yields its origin."""
    folder = tmp_path_factory.mktemp("browser")
    instance = folder / "instance"
    env = {"PORTAL_INSTANCE": str(instance)}
    run_portal("init", env=env, check=True)
    (folder / "password").write_text(PASSWORD + "\n")
    run_portal("user", "create", "carol", "--role", "admin", "--email", "carol@example.com",
               "--password-file", str(folder / "password"), env=env, check=True)
    with portal_serve(instance, workers=2) as (https_port, _http_port):
        yield f"https://127.0.0.1:{https_port}"


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright."""
    with playwright_chromium() as instance:
        yield instance


DIALOGS: list[str] = []  # every JavaScript dialog the tab showed (each is accepted)


@pytest.fixture(scope="module")
def page(browser, site):
    """One signed-in tab (the sign-in itself is the first test)."""
    context = browser.new_context(
        base_url=site, ignore_https_errors=True, accept_downloads=True,
        viewport={"width": 1360, "height": 900},
    )
    tab = context.new_page()
    tab.on("dialog", lambda dialog: (DIALOGS.append(dialog.message), dialog.accept()))
    yield tab
    context.close()


def shot(tab, name: str) -> None:
    """Save a full-page screenshot of what the person sees; axe must find nothing serious."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert_accessible(tab, name)


def test_1_sign_in(page):
    page.goto("/")
    assert "/login" in page.url
    shot(page, "01-sign-in")
    page.fill("#username", "carol")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    assert "Wrong user name or password." in page.inner_text(".auth-card")
    page.fill("#username", "carol")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Dashboard')")
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_2_issue_from_a_csr(page):
    csr = make_csr("shop.example.com", sans=[x509.DNSName("shop.example.com")])
    page.goto("/issue")
    page.fill("#csr", csr.decode())
    page.select_option("#profile", "server")
    page.click("button:has-text('Continue')")
    page.wait_for_selector("text=What will be signed")
    assert "DNS:shop.example.com" in page.inner_text(".preview")
    shot(page, "02-issue-preview")
    page.click("button:has-text('Sign and issue')")
    page.wait_for_selector(".alert-success")
    assert re.search(r"/certificates/\d+$", page.url)
    with page.expect_download() as download_info:
        page.click("a:has-text('PEM with chain')")
    chain = x509.load_pem_x509_certificates(download_info.value.path().read_bytes())
    assert chain[0].subject.rfc4514_string() == "CN=shop.example.com"
    shot(page, "03-certificate")


def test_3_generate_a_p12(page):
    page.goto("/generate")
    page.fill("#common_name", "Dana Smith")
    page.fill("#email", "dana@example.com")
    page.fill("#days", "20")  # so that the dashboard chart has a bar to show
    page.click("#suggest-password")
    password = page.input_value("#password")
    assert len(password) == 20
    page.check("input[name=compatibility][value=compatible]")
    shot(page, "04-generate")
    with page.expect_download() as download_info:
        page.click("button:has-text('Generate and download')")
    download = download_info.value
    assert download.suggested_filename.startswith("Dana_Smith-")
    assert download.suggested_filename.endswith(".p12")
    bundle = pkcs12.load_pkcs12(download.path().read_bytes(), password.encode())
    assert bundle.cert.certificate.subject.rfc4514_string() == "CN=Dana Smith"


def test_4_revoke_and_find_it_in_the_list(page):
    page.goto("/certificates?q=shop.example.com")
    follow(page, "a.row-link:has-text('shop.example.com')")
    page.select_option("#reason", "keyCompromise")
    page.check("#confirm")
    DIALOGS.clear()
    page.click("button:has-text('Revoke certificate')")
    page.wait_for_selector(".banner-danger:has-text('Revoked')")
    assert DIALOGS == []  # asked once, by the box: no second confirmation
    page.goto("/certificates")
    page.select_option("select[name=status]", "revoked")  # filters apply on change
    page.wait_for_url(re.compile(r"status=revoked"))
    rows = page.inner_text("table.table tbody")
    assert "shop.example.com" in rows and "keyCompromise" in rows
    assert "Dana Smith" not in rows
    shot(page, "05-certificates-revoked")
    page.goto("/certificates")
    shot(page, "06-certificates")


def test_5_every_main_page(page):
    for path, name, heading in [
        ("/", "07-dashboard", "Dashboard"),
        ("/cas", "08-cas", "Certificate authorities"),
        ("/users", "09-users", "Users"),
        ("/audit", "10-audit", "Audit log"),
    ]:
        page.goto(path)
        page.wait_for_selector(f"h1:has-text('{heading}')")
        shot(page, name)
    assert page.locator("text=certificate.revoke").count() >= 1
    page.goto("/cas")
    page.click("table a.row-link >> nth=0")
    shot(page, "11-ca")
