"""Every route with an integer id answers 404 for ids no database row can have, never a 500."""

import re

import pytest

from portal.web.converters import MAX_ID
from tests.web.conftest import csrf_token

_PART = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
HUGE_IDS = [str(2**63), str(2**64), "9" * 25, "9" * 5000]


def id_routes(app) -> list[tuple[str, str, str]]:
    """(method, rule, URL template with {id}) for every route that takes an `<int:...>` id."""
    found = []
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue

        def fill(match):
            converter, args, _name = match.groups()
            if converter == "int":
                return "{id}"
            return args.split(",")[0].strip().strip("'\"") if converter == "any" else "x"

        template = _PART.sub(fill, rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, template))
    return found


def call(client, method: str, url: str, csrf: str):
    """One request as a signed-in browser sends it (POSTs with the CSRF token)."""
    if method == "POST":
        return client.post(url, data={"csrf_token": csrf, "confirm": "y", "reason": "superseded"})
    return client.open(url, method=method)


def test_every_integer_route_is_covered(app):
    routes = id_routes(app)
    assert len(routes) >= 19, routes  # the 13 of the finding, and the others like them


@pytest.mark.parametrize("huge", HUGE_IDS, ids=lambda value: f"{len(value)}-digits")
def test_ids_beyond_64_bits_are_404_on_every_route(admin_web, app, huge):
    csrf = csrf_token(admin_web, "/")
    answers = {}
    for method, rule, template in id_routes(app):
        response = call(admin_web, method, template.format(id=huge), csrf)
        answers[f"{method} {rule}"] = response.status_code
    assert set(answers.values()) == {404}, {k: v for k, v in answers.items() if v != 404}


def test_the_largest_id_is_an_ordinary_miss(admin_web, app):
    """2^63 - 1 reaches the views: each says "no such item" its usual way, none with a 500."""
    csrf = csrf_token(admin_web, "/")
    answers = {}
    for method, rule, template in id_routes(app):
        response = call(admin_web, method, template.format(id=MAX_ID), csrf)
        answers[f"{method} {rule}"] = response.status_code
    assert all(status < 500 for status in answers.values()), answers
    assert 404 in answers.values()
