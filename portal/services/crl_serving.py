"""What a request for a CRL gets: the stored CRL, re-signed first when it is due.

The state comes from the cache (one small query, see crl_cache.py); a request signs only when
it finds the CRL missing or past its re-signing point, and serves whatever is still valid when
the re-signing fails (crl.ensure_fresh).
"""

from . import crl, crl_cache
from .crl import CRLState


def current_crl(ca_name: str | None) -> CRLState | None:
    """The CRL state of a CA (the default one without a name) to serve now; None: no such CA."""
    state = crl_cache.current_state(ca_name)
    if state is None:
        return None
    now = crl.utcnow()
    if state.is_due(now):
        state = crl.ensure_fresh(state, now=now)
    return state
