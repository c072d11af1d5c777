"""axe-core, pinned in tests/package.json (`npm ci --prefix tests`), run inside a Playwright tab."""

from functools import cache

import pytest

from tests.conftest import IN_CI, ROOT

AXE = ROOT / "tests" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious")
# The rules whose outcome can depend on colours alone. Dark mode changes only the colour
# custom properties (test_dark_mode_changes_colours_only keeps it so), so a dark pass after a
# full light pass needs no more than these.
COLOUR_RULES = ("color-contrast", "link-in-text-block")


@cache
def axe_source() -> str:
    """The axe-core script; skip without it locally, fail in CI (make test installs it)."""
    if not AXE.exists():
        message = f"{AXE} is missing: run `npm ci --prefix tests` (make test does)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text()


def blocking_violations(tab, rules: tuple[str, ...] = ()) -> list[str]:
    """Run axe (only `rules` if given) on the page; a line per serious violation and element."""
    # evaluate() runs through DevTools, which the page's Content-Security-Policy does not block.
    if not tab.evaluate("() => typeof window.axe === 'object'"):
        tab.evaluate(axe_source() + "\n;0")
    violations = tab.evaluate(
        """async (rules) => (await axe.run(document, Object.assign({resultTypes: ["violations"]},
                rules.length ? {runOnly: {type: "rule", values: rules}} : {}))).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(" ") + " " + (n.failureSummary || "")
                                           .replace(/\\s+/g, " ").slice(0, 160))}))""",
        list(rules),
    )
    return [f"{v['id']} ({v['impact']}): {v['help']}: {node}"
            for v in violations if v["impact"] in BLOCKING for node in v["nodes"]]


def assert_accessible(tab, state: str) -> None:
    """No critical or serious axe violation on the tab's page in light and in dark mode."""
    problems = []
    for scheme, rules in (("light", ()), ("dark", COLOUR_RULES)):
        tab.emulate_media(color_scheme=scheme)
        problems += [f"{state}, {scheme}: {line}" for line in blocking_violations(tab, rules)]
    tab.emulate_media(color_scheme="light")
    assert problems == [], "\n".join(problems)
