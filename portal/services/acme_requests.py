"""Authenticating an ACME request: the JWS, its url, its nonce and the account behind it.

Every POST to an ACME resource goes through `authenticate` before its resource runs, as in
Pebble's wfe: the view only parses the HTTP request and renders the result.
"""

import functools
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..acme import jws
from ..acme.problems import AcmeProblem
from ..acme_models import AcmeAccount
from ..extensions import db
from .acme_nonces import use_nonce
from .acme_rows import AccountRow, EndpointRow, account_of


@dataclass(frozen=True)
class Authenticated:
    """A request whose signature, url and nonce were checked; `account` is None for a jwk."""

    request: jws.SignedRequest
    key: jws.AccountKey
    account: AccountRow | None  # as read for this request (the ORM row: `orm_account`)

    def payload(self) -> dict | None:
        """The payload object (None for POST-as-GET)."""
        return self.request.payload_json()


def orm_account(account: AccountRow) -> AcmeAccount:
    """The session's row of an account, for a use case that changes it."""
    return db.session.get(AcmeAccount, account.id)


def account_url(base: str, account_id: int) -> str:
    """The account URL, which is also its kid."""
    return f"{base}/account/{account_id}"


def stored_key(account: AcmeAccount | AccountRow) -> jws.AccountKey:
    """The account's key as stored (parsed once per process: a key never changes in place)."""
    return _parsed_key(account.jwk)


@functools.lru_cache(maxsize=4096)
def _parsed_key(jwk_text: str) -> jws.AccountKey:
    # Keyed on the stored JWK text itself: a keyChange stores another text, so the old
    # key's entry is never found again for that account.
    return jws.account_key(json.loads(jwk_text))


def authenticate(
    endpoint: EndpointRow, body: bytes, url: str, base: str, *, jwk: str = "forbidden",
    deactivated_ok: bool = False,
) -> Authenticated:
    """Check a request JWS for `url`; `jwk`: "forbidden" (kid only), "required" or "allowed".

    The signature is checked before the nonce is taken, so a forged request cannot use up
    someone's nonce; a nonce is taken even when what follows refuses the request.
    """
    request = jws.parse_request(body)
    if request.url != url:
        raise AcmeProblem("unauthorized", "the JWS url header is not the URL of this request")
    if request.jwk is not None and jwk == "forbidden":
        raise AcmeProblem("malformed", "this resource needs a kid (the account URL), not a jwk")
    if request.kid is not None and jwk == "required":
        raise AcmeProblem("malformed", "this resource needs a jwk, not a kid")
    account = None
    if request.kid is not None:
        account = _account_for_kid(endpoint, request.kid, base)
        key = stored_key(account)
    else:
        key = request.jwk
    jws.verify(request, key)
    if not use_nonce(request.nonce):
        raise AcmeProblem("badNonce", "the nonce is unknown, used already or too old")
    if account is not None and account.status != "valid" and not deactivated_ok:
        raise AcmeProblem("unauthorized", f"the account is {account.status}")
    return Authenticated(request=request, key=key, account=account)


def _account_for_kid(endpoint, kid: str, base: str) -> AccountRow:
    # The path decides, not the host: behind a load balancer, or on another host of the same
    # database, the account URL's host can differ from this request's.
    wanted = urlsplit(account_url(base, 0)).path[:-1]
    path = urlsplit(kid).path if isinstance(kid, str) else ""
    number = path[len(wanted):] if path.startswith(wanted) else ""
    account = None
    if number.isdigit() and len(number) < 19:
        account = account_of(endpoint.id, int(number))
    if account is None:
        raise AcmeProblem("accountDoesNotExist", "the kid names no account of this endpoint")
    return account
