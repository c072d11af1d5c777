"""`portal serve`'s gunicorn logger: no secrets, and a stop that says so in one line."""

from ..accesslog import RedactingLogger
from .gunicorn_internals import STOP_MESSAGES, STOP_SIGNALS


class ServeLogger(RedactingLogger):
    """RedactingLogger with gunicorn's shutdown chatter at debug level.

    A stop otherwise writes a line per worker and per master; `portal serve` writes one
    ("portal: stopped") once both listeners are down.
    """

    def info(self, msg, *args, **kwargs):
        """Info, except the lines every worker and master writes while stopping."""
        if msg in STOP_MESSAGES and (msg != "Handling signal: %s" or args[:1] in STOP_SIGNALS):
            return self.debug(msg, *args, **kwargs)
        return super().info(msg, *args, **kwargs)
