"""axe-core, pinned in tests/package.json (`npm ci --prefix tests`), run inside a Playwright tab."""

from functools import cache

import pytest

from tests.conftest import IN_CI, ROOT

AXE = ROOT / "tests" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious")


@cache
def axe_source() -> str:
    """The axe-core script; skip without it locally, fail in CI (make test installs it)."""
    if not AXE.exists():
        message = f"{AXE} is missing: run `npm ci --prefix tests` (make test does)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text()


def blocking_violations(tab) -> list[str]:
    """Run axe on the tab's page; one line per critical or serious violation and element."""
    # evaluate() runs through DevTools, which the page's Content-Security-Policy does not block.
    if not tab.evaluate("() => typeof window.axe === 'object'"):
        tab.evaluate(axe_source() + "\n;0")
    violations = tab.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(" ") + " " + (n.failureSummary || "")
                                           .replace(/\\s+/g, " ").slice(0, 160))}))"""
    )
    return [f"{v['id']} ({v['impact']}): {v['help']}: {node}"
            for v in violations if v["impact"] in BLOCKING for node in v["nodes"]]


def assert_accessible(tab, state: str) -> None:
    """No critical or serious axe violation on the tab's page in light and in dark mode."""
    problems = []
    for scheme in ("light", "dark"):
        tab.emulate_media(color_scheme=scheme)
        problems += [f"{state}, {scheme}: {line}" for line in blocking_violations(tab)]
    tab.emulate_media(color_scheme="light")
    assert problems == [], "\n".join(problems)
