"""Flask-Limiter's one private name the portal overrides still exists, and still is the hook."""

import pytest
from flask_limiter import Limiter

from portal import limiter as portal_limiter
from portal.extensions import limiter

pytestmark = pytest.mark.web  # the hooks a request runs


def test_flask_limiter_still_has_what_the_portal_overrides():
    assert portal_limiter.missing() == []


def test_the_override_is_the_hook_flask_limiter_runs_before_each_request(app):
    hooks = app.before_request_funcs[None]
    assert limiter._check_request_limit in hooks


@pytest.mark.parametrize("change", ["removed", "renamed parameter"])
def test_a_changed_flask_limiter_is_named(monkeypatch, change):
    if change == "removed":
        monkeypatch.delattr(Limiter, "_check_request_limit")
        assert portal_limiter.missing() == ["Limiter._check_request_limit"]
    else:
        monkeypatch.setattr(Limiter, "_check_request_limit",
                            lambda self, name=None, in_middleware=True: None)
        assert portal_limiter.missing() == [
            "Limiter._check_request_limit('self', 'callable_name', 'in_middleware') "
            "(it now takes ('self', 'name', 'in_middleware'))"
        ]
