"""A real Chromium with a client certificate imported from a .p12 into its NSS database."""

import json
import subprocess
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import require_program

POLICY_FOLDER = Path("/etc/chromium/policies/managed")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@contextmanager
def chromium_with_certificate(home: Path, p12: Path, password: str, ca_pem: Path, origin: str,
                              issuer_cn: str):
    """Import the .p12 and trust the CA in a fresh NSS database under `home`.

    Headless Chromium shows no certificate chooser; the AutoSelectCertificateForUrls policy
    (a managed policy file, for this origin only, removed afterwards) makes the choice a user
    would make in the chooser.
    """
    certutil, pk12util = require_program("certutil"), require_program("pk12util")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([certutil, "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run([pk12util, "-i", str(p12), "-d", f"sql:{nssdb}", "-W", password],
                   check=True, capture_output=True)
    subprocess.run([certutil, "-A", "-d", f"sql:{nssdb}", "-n", "portal CA", "-t", "C,,",
                    "-i", str(ca_pem)], check=True)
    rule = {"pattern": origin, "filter": {"ISSUER": {"CN": issuer_cn}}}
    POLICY_FOLDER.mkdir(parents=True, exist_ok=True)
    policy = POLICY_FOLDER / f"portal-test-{origin.rsplit(':', 1)[-1]}.json"
    policy.write_text(json.dumps({"AutoSelectCertificateForUrls": [json.dumps(rule)]}))
    try:
        yield
    finally:
        policy.unlink()


def dump_dom(home: Path, url: str) -> str:
    """Load a page in headless Chromium with HOME=`home`; return its DOM."""
    chromium = require_program("chromium")
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={home / 'profile'}", "--dump-dom", url],
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=120,
    )
    return result.stdout


@contextmanager
def playwright_chromium():
    """Debian's Chromium, headless, driven by Playwright: the browser, closed afterwards."""
    from playwright.sync_api import sync_playwright

    executable = require_program("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(tab, username: str, password: str) -> None:
    """Sign in on /login and wait for the page the portal sends the person to, loaded."""
    tab.goto("/login")
    tab.fill("#username", username)
    tab.fill("#password", password)
    tab.click("button[type=submit]")
    tab.wait_for_url(lambda url: "/login" not in url, wait_until="load")


def follow(tab, selector: str) -> None:
    """Click the link at `selector` and wait until the page it opens has loaded.

    A click waits for the new page to be committed, not for its deferred scripts: a button
    they wire up (Suggest a strong one) does nothing if clicked between the two.
    """
    before = tab.url
    tab.click(selector)
    tab.wait_for_url(lambda url: url != before, wait_until="load")


@contextmanager
def site_with_two_people(folder: Path, admin_password: str, user_password: str):
    """`portal serve` over HTTPS on free ports, with an admin (ada) and a user (bob)."""
    from tests.conftest import run_portal
    from tests.e2e.servers import portal_serve

    instance = folder / "instance"
    env = {"PORTAL_INSTANCE": str(instance)}
    run_portal("init", env=env, check=True)
    for name, role, password in (("ada", "admin", admin_password), ("bob", "user", user_password)):
        (folder / name).write_text(password + "\n")
        run_portal("user", "create", name, "--role", role, "--email", f"{name}@example.com",
                   "--password-file", str(folder / name), env=env, check=True)
    with portal_serve(instance, workers=2) as (https_port, _http_port):
        yield {"origin": f"https://localhost:{https_port}", "instance": instance, "folder": folder}
