"""On a browser test's failure, keep what the browser showed: a screenshot and `page.url`.

A pytest hook (registered by tests/web/conftest.py): when a test's setup or call fails, every
Playwright page it holds (a `page` argument, or every page of a `browser` argument's contexts)
is saved, before any teardown closes it, to artifacts/browser-failures/ (git-ignored; another
folder with BROWSER_FAILURE_DIR), and the file names and URLs are added to the failure report.
"""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def failure_folder() -> Path:
    """Where the screenshots go."""
    return Path(os.environ.get("BROWSER_FAILURE_DIR") or ROOT / "artifacts" / "browser-failures")


def _pages(item) -> list:
    """The live Playwright pages a test holds, through its fixtures."""
    pages = []
    for value in getattr(item, "funcargs", {}).values():
        if hasattr(value, "screenshot") and hasattr(value, "url"):
            pages.append(value)
        elif hasattr(value, "contexts") and hasattr(value, "new_context"):
            pages.extend(page for context in value.contexts for page in context.pages)
    return list(dict.fromkeys(pages))


def save_pages(item) -> list[str]:
    """Screenshot every page of a failed test; one line per page for the report."""
    lines = []
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
    for number, page in enumerate(_pages(item), 1):
        path = failure_folder() / f"{stem}-{number}.png"
        try:
            url = page.url
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=True)
            path.with_suffix(".url").write_text(url + "\n")
            lines.append(f"page {number}: {url} -> {path}")
        except Exception as exc:  # a crashed or closed page: say so, keep the real failure
            lines.append(f"page {number}: no screenshot ({type(exc).__name__}: {exc})")
    return lines


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Save the browser's state when a test fails, while its pages are still open."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        lines = save_pages(item)
        if lines:
            report.sections.append(("browser at failure", "\n".join(lines)))
