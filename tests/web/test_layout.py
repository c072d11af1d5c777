"""Every main page in Chromium at 1280, 1024 and 390 px, in light and dark mode.

On each page: nothing scrolls sideways or is cut off at the right edge, every navigation item
(and the pending-request badge) is visible or reachable through the visible Menu button, and
axe-core finds no critical or serious violation. One `portal serve` and one browser for the
module; an admin, a user and a signed-out visitor each keep one tab for every width. A
screenshot of each page at each width goes to artifacts/screenshots/layout/ (not committed).
"""

import re
from pathlib import Path

import pytest
from cryptography import x509

from portal import create_app
from portal.extensions import db
from tests.conftest import ROOT, run_portal
from tests.e2e.browser import playwright_chromium, sign_in
from tests.e2e.servers import portal_serve
from tests.pki import make_csr
from tests.web.axe import COLOUR_RULES, blocking_violations

pytestmark = pytest.mark.slow

WIDTHS = (1280, 1024, 390)
SCREENSHOTS = ROOT / "artifacts" / "screenshots" / "layout"
ADMIN_PASSWORD = "layout-admin-pass-1"
USER_PASSWORD = "layout-user-pass-1"

ADMIN_PAGES = [
    "/", "/certificates", "/certificates?status=revoked", "{certificate}", "/issue",
    "/generate", "/cas", "{ca}", "/users", "/account/tokens", "/enrollment", "/requests",
    "{request}", "/policies", "/audit", "/acme-endpoints", "/webhooks", "/certificates/987654",
]
USER_PAGES = ["/account", "/account/request", "{own_certificate}", "/account/tokens", "/users"]
VISITOR_PAGES = ["/login", "{enrollment_link}", "/no-such-page"]

# Is the element on screen, unclipped: its centre and four points 4 px inside its corners (in
# from rounded corners) hit it or something inside it.
FULLY_VISIBLE = """(el) => {
  const r = el.getBoundingClientRect();
  if (r.width < 9 || r.height < 9) return false;
  if (r.left < 0 || r.top < 0 || r.right > innerWidth || r.bottom > innerHeight) return false;
  const xs = [r.left + 4, r.right - 4], ys = [r.top + 4, r.bottom - 4];
  const points = [[(r.left + r.right) / 2, (r.top + r.bottom) / 2]];
  xs.forEach((x) => ys.forEach((y) => points.push([x, y])));
  return points.every(([x, y]) => el.contains(document.elementFromPoint(x, y)));
}"""

# Visible elements that reach past the right edge (or the left), outside boxes that scroll
# and visually hidden ones (a table head that narrow screens keep for screen readers only).
CUT_OFF = """() => {
  const width = document.documentElement.clientWidth, out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || (r.right <= width + 1 && r.left >= -1)) continue;
    if (el.closest(".skip-link")) continue;
    let box = el, shown = true;  // not inside a box that scrolls or is clipped to nothing
    for (; box && box !== document.body; box = box.parentElement) {
      const style = getComputedStyle(box);
      const scrolls = box !== el && ["auto", "scroll"].includes(style.overflowX);
      if (scrolls || style.clip !== "auto") {
        shown = false;
        break;
      }
    }
    if (shown) out.push(`${el.tagName.toLowerCase()}.${el.className}: ` +
                          `${Math.round(r.left)}..${Math.round(r.right)} ` +
                          `"${(el.textContent || "").trim().slice(0, 40)}"`);
  }
  return out.slice(0, 8);
}"""


def _fill(folder: Path) -> str:
    """Users, certificates, a link, an ACME endpoint, a webhook, a token; the link's token.

    The same commands a person types, run in this process (each `portal` process costs seconds
    of imports on a loaded machine).
    """
    app = create_app()

    def portal(*args: str) -> str:
        result = app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    with app.app_context():
        for name, role, password in (("carol", "admin", ADMIN_PASSWORD),
                                     ("bob", "user", USER_PASSWORD)):
            (folder / name).write_text(password + "\n")
            portal("user", "create", name, "--role", role, "--email", f"{name}@example.com",
                   "--password-file", str(folder / name))
        for number, owner in ((1, "bob"), (2, "carol"), (3, "carol")):
            name = f"service-{number}.internal.example.com"
            csr = folder / f"{number}.csr"
            csr.write_bytes(make_csr(name, sans=[x509.DNSName(name), x509.DNSName("www." + name)]))
            portal("cert", "issue", "--csr", str(csr), "--profile", "server", "--owner", owner,
                   "--out", str(folder / f"{number}.pem"))
        link = portal("enroll", "create", "--cn", "Jane Doe", "--email", "jane@example.com")
        portal("acme", "create", "lab", "--domain", "example.com")
        portal("webhook", "add", "https://hooks.example.com/portal", "--event", "all")
        portal("token", "create", "carol", "--name", "deploy")
        db.engine.dispose()
    return re.search(r"/enroll/([A-Za-z0-9_-]{43})", link).group(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The portal over HTTPS with something on every page; yields its origin and a link."""
    folder = tmp_path_factory.mktemp("layout")
    instance = folder / "instance"
    env = {"PORTAL_INSTANCE": str(instance), "PORTAL_WEB_URL": "https://portal.example.com"}
    run_portal("init", env=env, check=True)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        token = _fill(folder)
    with portal_serve(instance, workers=2) as (https_port, _http_port):
        yield {"origin": f"https://127.0.0.1:{https_port}", "token": token}


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright."""
    with playwright_chromium() as instance:
        yield instance


def _tab(browser, site):
    context = browser.new_context(base_url=site["origin"], ignore_https_errors=True)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.dismiss())
    return tab


def _first_link(tab, path, selector):
    tab.goto(path)
    return tab.get_attribute(selector, "href")


@pytest.fixture(scope="module")
def tabs(browser, site):
    """Tabs for the admin, the user (whose request waits for the admin) and a visitor."""
    admin, user, visitor = (_tab(browser, site) for _ in range(3))
    sign_in(user, "bob", USER_PASSWORD)
    user.goto("/account/request")
    user.click("button:has-text('Send request')")
    user.wait_for_selector(".banner-warn")
    sign_in(admin, "carol", ADMIN_PASSWORD)
    ids = {
        "certificate": _first_link(admin, "/certificates", "a.row-link"),
        "ca": _first_link(admin, "/cas", "table a.row-link"),
        "request": _first_link(admin, "/requests", "a:has-text('Review')"),
        "own_certificate": _first_link(user, "/account", "a.row-link"),
        "enrollment_link": "/enroll/" + site["token"],
    }
    assert all(ids.values()), ids
    yield {"admin": admin, "user": user, "visitor": visitor, "ids": ids}
    for tab in (admin, user, visitor):
        tab.context.close()


def _problems(tab, path, width, slug) -> list[str]:
    """Everything wrong with the page on screen, in both colour schemes (each screenshotted)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    scroll = tab.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    if scroll[0] > scroll[1]:
        problems.append(f"scrolls sideways: {scroll[0]} > {scroll[1]}")
    problems += [f"cut off: {line}" for line in tab.evaluate(CUT_OFF)]
    problems += _navigation_problems(tab)
    if path.startswith("/audit") and tab.evaluate("() => document.querySelector('#q')"):
        search = tab.locator("#q").bounding_box()["width"]
        if search < 200:
            problems.append(f"audit search box {search:.0f} px wide")
    for scheme, rules in (("light", ()), ("dark", COLOUR_RULES)):
        tab.emulate_media(color_scheme=scheme)
        tab.screenshot(path=str(SCREENSHOTS / f"{slug}-{scheme}.png"))
        problems += [f"axe, {scheme}: {line}" for line in blocking_violations(tab, rules)]
    tab.emulate_media(color_scheme="light")
    return [f"{path} at {width} px: {problem}" for problem in problems]


def _navigation_problems(tab) -> list[str]:
    """Each navigation item fully visible, or after opening the Menu button with the keyboard."""
    items = tab.locator(".topbar .nav a, .topbar .nav-count:not(.menu-button *), "
                        ".topbar .who a, .topbar .who button")
    if items.count() == 0:
        return []

    def hidden():
        return [items.nth(i).inner_text() or "badge" for i in range(items.count())
                if not items.nth(i).evaluate(FULLY_VISIBLE)]

    missing = hidden()
    if not missing:
        return []
    button = tab.locator(".topbar .menu-button")
    if button.count() != 1 or not button.evaluate(FULLY_VISIBLE):
        return [f"navigation items hidden without a visible menu button: {missing}"]
    button.press("Enter")
    problems = []
    if button.get_attribute("aria-expanded") != "true":
        problems.append("the menu button does not say it is open")
    still = hidden()
    if still:
        problems.append(f"navigation items hidden with the menu open: {still}")
    if tab.evaluate("() => document.documentElement.scrollWidth > innerWidth"):
        problems.append("the open menu scrolls sideways")
    problems += [f"axe, menu open: {line}" for line in blocking_violations(tab)]
    tab.keyboard.press("Escape")
    if button.get_attribute("aria-expanded") != "false":
        problems.append("Escape does not close the menu")
    return problems


def each_page(tabs, width: int, pages=None):
    """Open every main page in its tab at `width`: (who, tab, path) once each has its heading."""
    pages = pages or (("admin", ADMIN_PAGES), ("user", USER_PAGES), ("visitor", VISITOR_PAGES))
    for who, paths in pages:
        tab = tabs[who]
        tab.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
        for page in paths:
            path = page.format(**tabs["ids"])
            tab.goto(path)
            tab.wait_for_selector("h1")
            yield who, tab, path


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_shows_its_navigation_and_passes_axe(tabs, width):
    problems = []
    for who, tab, path in each_page(tabs, width):
        slug = re.sub(r"[^a-z0-9]+", "-", f"{width}-{who}{path}").strip("-")
        problems += _problems(tab, path, width, slug)
    assert problems == [], "\n".join(problems)


def test_the_pending_request_badge_shows_in_the_navigation(tabs):
    admin = tabs["admin"]
    admin.set_viewport_size({"width": 1280, "height": 900})
    admin.goto("/")
    badge = admin.locator(".nav .nav-count")
    assert badge.inner_text() == "1"
    assert badge.evaluate(FULLY_VISIBLE)
    admin.set_viewport_size({"width": 390, "height": 844})
    admin.goto("/")
    assert admin.locator(".menu-button .nav-count").inner_text() == "1"
    assert not badge.is_visible()


def test_table_rows_show_status_expiry_and_downloads_at_390_px(tabs):
    user = tabs["user"]
    user.set_viewport_size({"width": 390, "height": 844})
    user.goto("/account")
    row = user.locator("table.table tbody tr").first
    for column in ("Status", "Expires"):
        cell = row.locator(f"td[data-label='{column}']")
        assert cell.count() == 1 and cell.evaluate(FULLY_VISIBLE), column
    downloads = row.locator("a").filter(has_text=re.compile("PEM|Download|download"))
    assert downloads.count() >= 1
    assert all(downloads.nth(i).evaluate(FULLY_VISIBLE) for i in range(downloads.count()))


def test_dark_mode_changes_colours_only():
    """The dark pass above runs axe's colour rules only: that holds while dark mode is colours."""
    css = (ROOT / "portal" / "web" / "static" / "portal.css").read_text()
    blocks = re.findall(r"@media \(prefers-color-scheme: dark\) \{\s*:root \{([^}]*)\}\s*\}", css)
    assert len(blocks) == css.count("prefers-color-scheme") == 1
    declarations = [part.strip() for part in blocks[0].split(";") if part.strip()]
    assert declarations and all(part.startswith("--") for part in declarations), declarations
