"""A failing Playwright test leaves a screenshot and its page's URL (tests/web/browser_failures).

A deliberately failing test runs in its own pytest process with the hook as a plugin, against
a real headless Chromium; the screenshot must be a PNG and the URL the page's.
"""

import os
import subprocess
import sys

from tests.conftest import ROOT, require_program

FAILING = '''
import pytest
from playwright.sync_api import sync_playwright


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path={chromium!r},
                                              args=["--headless", "--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    tab = context.new_page()
    yield tab
    context.close()


def test_a_page_fixture(page):
    page.goto("data:text/html,<h1>first</h1>#one")
    assert page.inner_text("h1") == "not what the page says"


def test_tabs_opened_from_the_browser(browser):
    tab = browser.new_context().new_page()
    tab.goto("data:text/html,<h1>second</h1>#two")
    assert False, "the tab is left open, as a failing test leaves it"


def test_a_passing_test_leaves_nothing(page):
    page.goto("data:text/html,<h1>third</h1>")
'''


def test_each_failing_browser_test_leaves_a_screenshot_and_its_url(tmp_path):
    (tmp_path / "test_inner.py").write_text(FAILING.replace(
        "{chromium!r}", repr(require_program("chromium"))))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    shots = tmp_path / "shots"
    env = {**os.environ, "BROWSER_FAILURE_DIR": str(shots), "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
         "tests.web.browser_failures", "-c", str(tmp_path / "pytest.ini"), "--rootdir",
         str(tmp_path), str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert "2 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    pngs = sorted(shots.glob("*.png"))
    assert [path.name for path in pngs] == [
        "test_inner.py_test_a_page_fixture-1.png",
        "test_inner.py_test_tabs_opened_from_the_browser-1.png",
    ]
    for path, fragment in zip(pngs, ("#one", "#two"), strict=True):
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert path.with_suffix(".url").read_text().strip().endswith(fragment)
    assert "browser at failure" in run.stdout and "#one -> " in run.stdout
