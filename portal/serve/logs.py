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

    def warning(self, msg, *args, **kwargs):
        """Warning, except a worker ended by the SIGQUIT of a quick stop (Ctrl-C).

        gunicorn answers SIGINT by sending its workers SIGQUIT; one still starting dies of it
        rather than exiting, which gunicorn reports as a warning though the stop was asked for.
        """
        if msg in STOP_MESSAGES and args[1:2] == ("SIGQUIT",):
            return self.debug(msg, *args, **kwargs)
        return super().warning(msg, *args, **kwargs)
