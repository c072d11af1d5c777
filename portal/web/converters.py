"""URL converters: an `<int:...>` id never exceeds what the database can hold."""

from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

# SQLite and PostgreSQL keep integers in at most 64 signed bits; a larger id matches no row,
# but binding it raised OverflowError (a 500). Such a URL is now a 404.
MAX_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ID))


class DatabaseIdConverter(IntegerConverter):
    """Werkzeug's `int` converter, capped at the largest id a database row can have."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        upper = MAX_ID if max is None or max > MAX_ID else max
        super().__init__(map, fixed_digits, min, upper, signed)

    def to_python(self, value: str) -> int:
        """The id; a 404 when it cannot be a row's id.

        NotFound rather than werkzeug's ValidationError: after a ValidationError the router
        answers 405 when another rule has the same path for other methods (GET and POST
        /requests/<id> are two views).
        """
        number = int(value) if len(value.lstrip("-")) <= _MAX_DIGITS else None
        if number is None or number > MAX_ID or (self.min is not None and number < self.min):
            raise NotFound()
        return super().to_python(value)


def init_app(app: Flask) -> None:
    """Use the capped converter for every `<int:...>` route (before any route is added)."""
    app.url_map.converters["int"] = DatabaseIdConverter
