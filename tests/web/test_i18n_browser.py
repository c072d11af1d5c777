"""The main pages in ja, ko and zh-Hans in Chromium at 1280, 1024 and 390 px.

The browser asks for each language (its locale sets Accept-Language); on every page: the right
<html lang>, nothing scrolls sideways or is cut off at 1280 and 1024 px, and every navigation
item is visible (at 390 px behind the visible Menu button, as tests/web/test_layout.py checks in
English). CJK words are wider than English ones, so this needs real CJK glyphs: Debian's
fonts-noto-cjk (.ci/run installs it), or Chromium draws boxes of the wrong width. Screenshots go
to artifacts/screenshots/i18n/ (not committed).
"""

import re
import shutil
import subprocess

import pytest

from tests.conftest import IN_CI, ROOT
from tests.e2e.browser import sign_in
from tests.web.test_layout import (  # noqa: F401  (browser and site are fixtures)
    ADMIN_PASSWORD,
    CUT_OFF,
    USER_PASSWORD,
    _first_link,
    _navigation_problems,
    browser,
    each_page,
    site,
)

pytestmark = pytest.mark.slow

WIDTHS = (1280, 1024, 390)
SCREENSHOTS = ROOT / "artifacts" / "screenshots" / "i18n"
LOCALES = {"ja": ("ja-JP", "ja"), "ko": ("ko-KR", "ko"), "zh_Hans": ("zh-CN", "zh-Hans")}
ADMIN_PAGES = ["/", "/certificates", "{certificate}", "/issue", "/generate", "/requests",
               "/users", "/audit"]
USER_PAGES = ["/account", "/account/request"]
VISITOR_PAGES = ["/login", "{enrollment_link}"]


def _require_cjk_fonts():
    found = ""
    if shutil.which("fc-list"):
        found = subprocess.run(["fc-list", ":lang=ja", "family"], capture_output=True,
                               text=True, check=False).stdout
    if "Noto Sans CJK" not in found:
        message = "fonts-noto-cjk is not installed (.ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def tabs_in(browser, site):  # noqa: F811
    """Per language: an admin's, a user's and a visitor's tab, and the ids of a few pages."""
    _require_cjk_fonts()
    opened = {}

    def tabs(language):
        if language not in opened:
            locale, _tag = LOCALES[language]
            made = {}
            for who in ("admin", "user", "visitor"):
                context = browser.new_context(base_url=site["origin"], ignore_https_errors=True,
                                              locale=locale)
                made[who] = context.new_page()
            sign_in(made["admin"], "carol", ADMIN_PASSWORD)
            sign_in(made["user"], "bob", USER_PASSWORD)
            made["ids"] = {
                "certificate": _first_link(made["admin"], "/certificates", "a.row-link"),
                "enrollment_link": "/enroll/" + site["token"],
            }
            opened[language] = made
        return opened[language]

    yield tabs
    for made in opened.values():
        for who in ("admin", "user", "visitor"):
            made[who].context.close()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", list(LOCALES))
def test_the_main_pages_fit_in_each_language(tabs_in, language, width):
    tabs = tabs_in(language)
    problems = []
    pages = (("admin", ADMIN_PAGES), ("user", USER_PAGES), ("visitor", VISITOR_PAGES))
    for who, tab, path in each_page(tabs, width, pages):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", f"{who}{path}").strip("-")
        tab.screenshot(path=str(SCREENSHOTS / f"{language}-{width}-{slug}.png"),
                       full_page=True)
        where = f"{language} {path} at {width} px"
        lang = tab.evaluate("() => document.documentElement.lang")
        if lang != LOCALES[language][1]:
            problems.append(f"{where}: <html lang={lang!r}>")
        scroll = tab.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
        if width >= 1024 and scroll[0] > scroll[1]:
            problems.append(f"{where}: scrolls sideways ({scroll[0]} > {scroll[1]})")
        if width >= 1024:
            problems += [f"{where}: cut off: {line}" for line in tab.evaluate(CUT_OFF)]
        problems += [f"{where}: {line}" for line in _navigation_problems(tab)]
    assert problems == [], "\n".join(problems)


def test_the_switcher_changes_the_language_in_the_browser(tabs_in, site):  # noqa: F811
    visitor = tabs_in("ja")["visitor"]
    context = visitor.context.browser.new_context(base_url=site["origin"],
                                                  ignore_https_errors=True, locale="en-US")
    tab = context.new_page()
    try:
        tab.goto("/login")
        assert tab.evaluate("() => document.documentElement.lang") == "en"
        with tab.expect_navigation():
            tab.select_option("#language-choice", "ko")  # the script submits on change
        assert tab.evaluate("() => document.documentElement.lang") == "ko"
        tab.goto("/login")
        assert tab.evaluate("() => document.documentElement.lang") == "ko"
    finally:
        context.close()
