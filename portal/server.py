"""The old home of `portal serve`'s code, kept so that its dotted paths keep working.

gunicorn names a worker class by dotted path: `portal.server.PollingThreadWorker` in a
configuration written before the code moved to `portal.serve` still loads.
"""

from .serve.tls import TLSContextCache
from .serve.worker import PollingThreadWorker

__all__ = ["PollingThreadWorker", "TLSContextCache"]
