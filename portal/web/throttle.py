"""Who the sign-in throttle counts, read from the request (the counts live in services/ratelimit).

Sign-in attempts are counted twice, separately: per client address (so many invented names
from one address are stopped) and per account (so many addresses cannot try one account); an
attacker locks out only their own address and the accounts they try, never everyone. Behind
a trusted proxy the address is the forwarded client's (portal.proxies), never the proxy's.
"""

from flask import request

from ..services.ratelimit import ACCOUNT_KEY_PREFIX, ADDRESS_KEY_PREFIX


def client_address() -> str:
    """The client's address: the peer's, or the one a trusted proxy forwarded."""
    return request.remote_addr or "unknown"


def address_key() -> str:
    """The throttle key of the client's address."""
    return ADDRESS_KEY_PREFIX + client_address()


def account_key() -> str:
    """The throttle key of the account named in a sign-in form, whatever the address."""
    return ACCOUNT_KEY_PREFIX + (request.form.get("username") or "").strip().lower()[:64]
