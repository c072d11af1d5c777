"""Feedback in Chromium: one-time downloads say what happened; copy buttons say "Copied".

The admin's "Generate and download", a person's download of an approved request and an
enrollment link: the file arrives (read back with cryptography), the page shows what happened
without a reload, the password is gone from the form, and a second click issues nothing. One
`portal serve` (gunicorn over HTTPS) and one headless Chromium for the module. On a
certificate's page the copy buttons, pressed from the keyboard, put the serial and the PEM on
the clipboard (read back) and say so.
"""

import re

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.e2e.browser import follow, playwright_chromium, sign_in, site_with_two_people
from tests.pki import make_csr

pytestmark = pytest.mark.slow

ADMIN_PASSWORD = "browser-admin-pass-7"
USER_PASSWORD = "browser-user-pass-7"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The portal over HTTPS, with an admin (ada) and a user (bob)."""
    with site_with_two_people(tmp_path_factory.mktemp("downloads"), ADMIN_PASSWORD,
                              USER_PASSWORD) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright."""
    with playwright_chromium() as instance:
        yield instance


@pytest.fixture
def tabs(browser, site):
    """Opens tabs, each in its own context (its own cookies); closes them after the test."""
    contexts = []

    def open_tab(username=None, password=None, *, script=True):
        context = browser.new_context(base_url=site["origin"], ignore_https_errors=True,
                                      accept_downloads=True, java_script_enabled=script,
                                      viewport={"width": 1360, "height": 900})
        contexts.append(context)
        tab = context.new_page()
        tab.on("dialog", lambda dialog: dialog.accept())
        if username:
            sign_in(tab, username, password)
        return tab

    yield open_tab
    for context in contexts:
        context.close()


def _certificate_ids(tab) -> set[str]:
    tab.goto("/certificates")
    return set(re.findall(r"/certificates/(\d+)\"", tab.content()))


def test_generate_says_what_happened_links_the_certificate_and_clears_the_form(tabs, site):
    admin = tabs("ada", ADMIN_PASSWORD)
    before = _certificate_ids(admin)
    admin.goto("/generate")
    admin.fill("#common_name", "dana")
    admin.click("#suggest-password")  # shows the password in clear text
    password = admin.input_value("#password")
    with admin.expect_download() as download_info:
        admin.click("button:has-text('Generate and download')")
    path = site["folder"] / "dana.p12"
    download_info.value.save_as(path)
    bundle = pkcs12.load_pkcs12(path.read_bytes(), password.encode())
    serial = format(bundle.cert.certificate.serial_number, "X")

    done = admin.wait_for_selector("#generate-done", state="visible")
    assert "The certificate is issued and its file is downloaded." in done.inner_text()
    assert admin.url.endswith("/generate")  # no reload: the same page, updated
    assert admin.input_value("#password") == ""
    assert admin.get_attribute("#password", "type") == "password"
    assert admin.input_value("#common_name") == ""
    assert serial.lstrip("0") in admin.inner_text("#generate-done [data-serial]").lstrip("0")

    # A second click issues nothing: the empty form is refused by the browser itself.
    admin.click("button:has-text('Generate and download')")
    assert admin.evaluate("document.getElementById('common_name').validity.valueMissing")
    after = _certificate_ids(admin)
    assert len(after - before) == 1

    admin.goto("/generate")
    admin.fill("#common_name", "dana")
    admin.fill("#password", "another-password-1")
    with admin.expect_download():
        admin.click("button:has-text('Generate and download')")
    admin.click("#generate-done a[data-certificate]")
    admin.wait_for_url(re.compile(r"/certificates/\d+$"))
    assert "dana" in admin.inner_text("h1")
    assert admin.url.rsplit("/", 1)[1] not in after


def test_a_self_service_download_leaves_no_download_or_withdraw(tabs, site):
    user, admin = tabs("bob", USER_PASSWORD), tabs("ada", ADMIN_PASSWORD)
    user.goto("/account/request")
    user.fill("#common_name", "bob")
    user.click("button:has-text('Send request')")
    user.wait_for_selector(".banner-warn:has-text('Waiting for an admin')")
    request_url = user.url
    admin.goto("/requests")
    follow(admin, "a:has-text('Review') >> nth=0")
    admin.click("button:has-text('Approve')")
    admin.wait_for_selector(".alert-success:has-text('approved')")

    user.goto(request_url)
    user.fill("#password", "bob-file-password-1")
    with user.expect_download() as download_info:
        user.click("button:has-text('Download .p12')")
    path = site["folder"] / "bob.p12"
    download_info.value.save_as(path)
    bundle = pkcs12.load_pkcs12(path.read_bytes(), b"bob-file-password-1")
    assert bundle.cert.certificate.subject.rfc4514_string() == "CN=bob"

    user.wait_for_selector("#download-done", state="visible")
    assert user.url == request_url
    assert not user.is_visible("button:has-text('Download .p12')")
    assert not user.is_visible("button:has-text('Withdraw the request')")
    assert not user.is_visible("text=ready to download")
    user.click("#download-done a[data-certificate]")
    user.wait_for_url(re.compile(r"/account/certificates/\d+$"))
    assert "bob" in user.inner_text("h1")


def test_an_enrollment_link_refused_then_used_clears_the_error(tabs, site):
    admin, stranger = tabs("ada", ADMIN_PASSWORD), tabs()
    admin.goto("/enrollment")
    admin.fill("#common_name", "Jane Doe")
    admin.click("button:has-text('Create the link')")
    path = "/enroll/" + admin.inner_text("#new-link").rsplit("/", 1)[1]

    stranger.goto(path)
    # Refused by the server: Compatible files take ASCII passwords only.
    stranger.fill("#password", "pässword-for-jane")
    stranger.check("input[name=compatibility][value=compatible]")
    stranger.click("button:has-text('Download my .p12')")
    error = stranger.wait_for_selector(".has-error p.error")
    assert "ASCII" in error.inner_text()
    assert stranger.url.endswith(path)

    stranger.fill("#password", "jane-password-1")
    with stranger.expect_download() as download_info:
        stranger.click("button:has-text('Download my .p12')")
    file = site["folder"] / "jane.p12"
    download_info.value.save_as(file)
    assert pkcs12.load_pkcs12(file.read_bytes(), b"jane-password-1").cert is not None
    stranger.wait_for_selector("#enroll-done", state="visible")
    assert stranger.locator(".has-error, p.error").count() == 0
    assert not stranger.is_visible("button:has-text('Download my .p12')")


def test_a_short_password_refused_by_the_server_then_a_good_one(tabs, site):
    admin, stranger = tabs("ada", ADMIN_PASSWORD), tabs()
    admin.goto("/enrollment")
    admin.fill("#common_name", "Joe Bloggs")
    admin.click("button:has-text('Create the link')")
    path = "/enroll/" + admin.inner_text("#new-link").rsplit("/", 1)[1]
    stranger.goto(path)
    # The browser checks the length itself; a browser that does not still meets the server.
    stranger.evaluate("document.getElementById('enroll-form').noValidate = true")
    stranger.fill("#password", "short")
    stranger.click("button:has-text('Download my .p12')")
    stranger.wait_for_selector(".has-error p.error")
    stranger.fill("#password", "joe-password-12")
    with stranger.expect_download():
        stranger.click("button:has-text('Download my .p12')")
    stranger.wait_for_selector("#enroll-done", state="visible")
    assert stranger.locator(".has-error, p.error").count() == 0


def test_without_javascript_the_plain_form_still_downloads(tabs, site):
    admin = tabs("ada", ADMIN_PASSWORD, script=False)
    admin.goto("/generate")
    admin.fill("#common_name", "erin")
    admin.fill("#password", "erin-password-1")
    with admin.expect_download() as download_info:
        admin.click("button:has-text('Generate and download')")
    path = site["folder"] / "erin.p12"
    download_info.value.save_as(path)
    bundle = pkcs12.load_pkcs12(path.read_bytes(), b"erin-password-1")
    assert bundle.cert.certificate.subject.rfc4514_string() == "CN=erin"


def test_copy_buttons_work_by_keyboard_and_say_copied(tabs, site):
    admin = tabs("ada", ADMIN_PASSWORD)
    admin.context.grant_permissions(["clipboard-read", "clipboard-write"])
    admin.goto("/generate")
    admin.fill("#common_name", "gina")
    admin.fill("#password", "gina-password-1")
    with admin.expect_download():
        admin.click("button:has-text('Generate and download')")
    admin.click("#generate-done a[data-certificate]")
    admin.wait_for_url(re.compile(r"/certificates/\d+$"))
    serial = admin.inner_text("#serial-value")

    admin.focus("button[data-copy-target=serial-value]")
    admin.keyboard.press("Enter")
    admin.wait_for_selector("button[data-copy-target=serial-value]:has-text('Copied')")
    assert admin.inner_text("#copy-status") == "Copied"
    assert admin.evaluate("navigator.clipboard.readText()") == serial

    assert not admin.is_visible("#pem-value")  # collapsed until asked for
    admin.focus("button[data-copy-target=pem-value]")
    admin.keyboard.press("Space")
    admin.wait_for_selector("button[data-copy-target=pem-value]:has-text('Copied')")
    pem = admin.evaluate("navigator.clipboard.readText()")
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert pem.endswith("-----END CERTIFICATE-----")
    admin.click("details.pem summary")
    assert admin.is_visible("#pem-value")


def test_issue_similar_with_a_new_key_then_from_a_csr(tabs, site):
    admin = tabs("ada", ADMIN_PASSWORD)
    admin.goto("/generate")
    admin.fill("#common_name", "hugo")
    admin.fill("#password", "hugo-password-1")
    with admin.expect_download():
        admin.click("button:has-text('Generate and download')")
    admin.click("#generate-done a[data-certificate]")
    admin.wait_for_url(re.compile(r"/certificates/\d+$"))
    old_url = admin.url
    admin.click("a:has-text('Issue similar')")
    admin.wait_for_selector("#csr", state="hidden")  # the CSR part shows for its choice only
    admin.fill("#password", "hugo-password-2")
    with admin.expect_download() as download_info:
        admin.click("button:has-text('Issue the new certificate')")
    path = site["folder"] / "hugo-2.p12"
    download_info.value.save_as(path)
    bundle = pkcs12.load_pkcs12(path.read_bytes(), b"hugo-password-2")
    assert bundle.cert.certificate.subject.rfc4514_string() == "CN=hugo"
    admin.wait_for_selector("#reissue-done", state="visible")
    assert not admin.is_visible("button:has-text('Issue the new certificate')")

    admin.goto(old_url + "/reissue")
    admin.check("input[name=method][value=csr]")
    admin.fill("#csr", make_csr("ignored").decode())
    admin.check("#revoke_old")
    admin.click("button:has-text('Issue the new certificate')")
    admin.wait_for_selector(".alert-success:has-text('now revoked as superseded')")
    assert admin.url != old_url and "hugo" in admin.inner_text("h1")
    admin.goto(old_url)
    assert "Superseded" in admin.inner_text(".banner-danger")
