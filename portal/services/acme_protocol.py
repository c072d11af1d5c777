"""The ACME resources (RFC 8555 §7), one function each: endpoint, JWS checks, then the use case.

Each takes what the view parsed (the endpoint name, the body, the request URL and the
endpoint's base URL) and returns a `Reply` the view renders as it is.
"""

from dataclasses import dataclass, field

from ..acme.problems import AcmeProblem
from . import acme_accounts, acme_authz, acme_certs, acme_orders
from .acme_endpoints import serving_endpoint
from .acme_nonces import new_nonce
from .acme_requests import Authenticated, account_url, authenticate
from .acme_rows import EndpointRow


@dataclass
class Reply:
    """What to answer: a status, a JSON body (or PEM bytes) and extra headers."""

    status: int = 200
    body: dict | bytes | None = None
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"


def directory(name: str, base: str) -> Reply:
    """The directory object (§7.1.1)."""
    endpoint = serving_endpoint(name)
    return Reply(body={
        "newNonce": f"{base}/new-nonce", "newAccount": f"{base}/new-account",
        "newOrder": f"{base}/new-order", "revokeCert": f"{base}/revoke-cert",
        "keyChange": f"{base}/key-change", "renewalInfo": f"{base}/renewal-info",
        "meta": {"externalAccountRequired": bool(endpoint.eab_required),
                 "profiles": {endpoint.profile: "the portal's server profile"}},
    })


def nonce(name: str) -> str:
    """A fresh nonce for newNonce (the endpoint must exist)."""
    serving_endpoint(name)
    return new_nonce()


def _signed(name: str, body: bytes, url: str, base: str, **options
            ) -> tuple[EndpointRow, Authenticated]:
    endpoint = serving_endpoint(name)
    return endpoint, authenticate(endpoint, body, url, base, **options)


def new_account(name: str, body: bytes, url: str, base: str) -> Reply:
    """NewAccount (§7.3): 201 for a new account, 200 for the key's existing one."""
    endpoint, signed = _signed(name, body, url, base, jwk="required")
    account, created = acme_accounts.new_account(endpoint, signed, url, base)
    return Reply(status=201 if created else 200, body=acme_accounts.account_json(account, base),
                 headers={"Location": account_url(base, account.id)})


def account(name: str, body: bytes, url: str, base: str, account_id: int) -> Reply:
    """The account resource: read, update contacts, deactivate (§7.3.2, §7.3.6)."""
    endpoint, signed = _signed(name, body, url, base)
    row = acme_accounts.update_account(endpoint, signed, account_id)
    return Reply(body=acme_accounts.account_json(row, base))


def account_orders(name: str, body: bytes, url: str, base: str, account_id: int,
                   after: int) -> Reply:
    """The account's orders list (§7.1.2.1), paged with a Link rel="next"."""
    _, signed = _signed(name, body, url, base)
    if signed.account.id != account_id:
        raise AcmeProblem("unauthorized", "an account's orders are listed only to its key")
    urls, cursor = acme_orders.orders_list(signed.account, base, after=after)
    headers = {}
    if cursor is not None:
        headers["Link"] = f'<{account_url(base, account_id)}/orders?after={cursor}>;rel="next"'
    return Reply(body={"orders": urls}, headers=headers)


def key_change(name: str, body: bytes, url: str, base: str) -> Reply:
    """KeyChange (§7.3.5)."""
    endpoint, signed = _signed(name, body, url, base)
    row = acme_accounts.change_key(endpoint, signed, url, base)
    return Reply(body=acme_accounts.account_json(row, base))


def new_order(name: str, body: bytes, url: str, base: str) -> Reply:
    """NewOrder (§7.4)."""
    endpoint, signed = _signed(name, body, url, base)
    order, authz_ids = acme_orders.new_order(endpoint, signed.account, signed.payload())
    return Reply(status=201, body=acme_orders.order_json(order, base, authz_ids),
                 headers={"Location": f"{base}/order/{order.id}"})


def order(name: str, body: bytes, url: str, base: str, order_id: int) -> Reply:
    """The order resource, POST-as-GET."""
    _, signed = _signed(name, body, url, base)
    row = acme_orders.own_order(signed.account, order_id)
    return Reply(body=acme_orders.order_json(row, base))


def finalize(name: str, body: bytes, url: str, base: str, order_id: int) -> Reply:
    """Finalize (§7.4): the CSR; the certificate is issued before the answer."""
    endpoint, signed = _signed(name, body, url, base)
    row = acme_orders.own_order(signed.account, order_id)
    row = acme_certs.finalize(endpoint, signed.account, row, signed.payload(), signed.key)
    return Reply(body=acme_orders.order_json(row, base),
                 headers={"Location": f"{base}/order/{row.id}"})


def authorization(name: str, body: bytes, url: str, base: str, authz_id: int) -> Reply:
    """The authorization resource: read (POST-as-GET) or deactivate (§7.5.2)."""
    endpoint, signed = _signed(name, body, url, base)
    authz = acme_authz.own_authorization(signed.account, authz_id)
    payload = signed.payload()
    if payload:
        if payload.get("status") != "deactivated":
            raise AcmeProblem("malformed", "an authorization can only be deactivated")
        authz = acme_authz.deactivate_authorization(
            signed.account, authz, f"acme:{endpoint.name}:account {signed.account.id}")
    return Reply(body=acme_authz.authorization_json(authz, base))


def challenge(name: str, body: bytes, url: str, base: str, challenge_id: int) -> Reply:
    """The challenge resource: {} asks for validation (§7.5.1); POST-as-GET reads it."""
    endpoint, signed = _signed(name, body, url, base)
    row, authz = acme_authz.own_challenge(signed.account, challenge_id)
    if signed.payload() is not None:
        row = acme_authz.answer_challenge(row, authz,
                                          f"acme:{endpoint.name}:account {signed.account.id}")
    return Reply(body=acme_authz.challenge_json(row, base),
                 headers={"Link": f'<{base}/authz/{authz.id}>;rel="up"'})


def certificate(name: str, body: bytes, url: str, base: str, order_id: int) -> Reply:
    """The certificate with its chain up to the root (§7.4.2)."""
    _, signed = _signed(name, body, url, base)
    row = acme_orders.own_order(signed.account, order_id)
    return Reply(body=acme_certs.certificate_chain(row),
                 content_type="application/pem-certificate-chain")


def revoke_cert(name: str, body: bytes, url: str, base: str) -> Reply:
    """RevokeCert (§7.6), by the ordering account (kid) or the certificate key (jwk)."""
    endpoint, signed = _signed(name, body, url, base, jwk="allowed")
    acme_certs.revoke(endpoint, signed.account, signed.key, signed.payload())
    return Reply(body=None)


def renewal_info(name: str, cert_id: str) -> Reply:
    """ARI (RFC 9773): when to renew, with Retry-After."""
    endpoint = serving_endpoint(name)
    return Reply(body=acme_certs.renewal_info(endpoint, cert_id),
                 headers={"Retry-After": str(acme_certs.ARI_RETRY_AFTER)})
