"""Flask-Limiter, plus blueprints it is not even consulted for; its one private name, here.

`PortalLimiter.skip` exempts a blueprint and also skips the limiter's per-request work for it,
which Flask-Limiter offers no public hook for: it overrides `Limiter._check_request_limit`, the
method Flask-Limiter registers as its before_request hook. That name and its parameters are
Flask-Limiter's insides, so they are named here and nowhere else, and `missing()` says which
of them a Flask-Limiter release no longer has (tests/test_limiter_internals.py calls it).
"""

import inspect

from flask import Blueprint, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# The private method overridden below, and the parameters it is called with.
CHECK_REQUEST_LIMIT = "_check_request_limit"
CHECK_REQUEST_LIMIT_PARAMETERS = ("self", "callable_name", "in_middleware")


class PortalLimiter(Limiter):
    """Flask-Limiter, with blueprints it is not even consulted for (see `skip`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._skipped_blueprints: set[str] = set()

    def skip(self, blueprint: Blueprint) -> Blueprint:
        """Exempt a blueprint, and skip the limiter's per-request work for it altogether.

        An exempt blueprint still cost every request the limiter's resolution of its limits
        and exemptions (~0.1 ms). Its views must carry no `@limiter.limit` of their own.
        """
        self._skipped_blueprints.add(blueprint.name)
        return self.exempt(blueprint)

    def _check_request_limit(self, callable_name=None, in_middleware=True) -> None:
        if in_middleware and request.blueprint in self._skipped_blueprints:
            return
        super()._check_request_limit(callable_name, in_middleware)


def missing() -> list[str]:
    """The Flask-Limiter internals above that this Flask-Limiter lacks or has changed."""
    method = getattr(Limiter, CHECK_REQUEST_LIMIT, None)
    if not callable(method):
        return [f"Limiter.{CHECK_REQUEST_LIMIT}"]
    parameters = tuple(inspect.signature(method).parameters)
    if parameters != CHECK_REQUEST_LIMIT_PARAMETERS:
        return [f"Limiter.{CHECK_REQUEST_LIMIT}{CHECK_REQUEST_LIMIT_PARAMETERS} "
                f"(it now takes {parameters})"]
    return []


# Throttling: counted in the database (portal.services.ratelimit registers `portal-db://`),
# so that every gunicorn worker sees the same counts; the memory storage would multiply the
# limit by the number of workers.
limiter = PortalLimiter(
    key_func=get_remote_address, storage_uri="portal-db://", strategy="moving-window"
)
