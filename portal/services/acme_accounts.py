"""ACME accounts (RFC 8555 §7.3): creation with EAB, lookup, update, deactivation, key change."""

import json
import secrets

import josepy as jose
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..acme import eab, jws
from ..acme.problems import AcmeProblem
from ..acme_models import AcmeAccount, AcmeEabKey, AcmeEndpoint
from ..errors import NotFound
from ..extensions import db
from ..models import User
from ..translatable import N_
from . import audit
from .acme_requests import Authenticated, account_url, orm_account
from .secrets import ca_secret

_MAX_CONTACTS = 10


def account_json(account: AcmeAccount, base: str) -> dict:
    """The account object (RFC 8555 §7.1.2)."""
    body = {"status": account.status, "contact": json.loads(account.contact),
            "orders": account_url(base, account.id) + "/orders"}
    if account.eab_key_id is not None:
        body["externalAccountBinding"] = {"bound": True}
    return body


def _contacts(payload: dict) -> list[str]:
    contact = payload.get("contact", [])
    if not isinstance(contact, list) or len(contact) > _MAX_CONTACTS:
        raise AcmeProblem("malformed", f"contact must be a list of at most {_MAX_CONTACTS} URLs")
    for value in contact:
        if not isinstance(value, str) or not value.startswith("mailto:"):
            raise AcmeProblem("unsupportedContact", "only mailto: contacts are supported")
        address = value[len("mailto:"):]
        if len(address) > 254 or "@" not in address or any(c in address for c in ",?<> \r\n"):
            raise AcmeProblem("invalidContact", f"{value[:80]!r} is not one e-mail address")
    return contact


def new_account(endpoint: AcmeEndpoint, signed: Authenticated, url: str, base: str
                ) -> tuple[AcmeAccount, bool]:
    """newAccount: the existing account of this key (False) or a new one (True)."""
    payload = signed.payload() or {}
    key = signed.key
    existing = _by_thumbprint(endpoint, key.thumbprint)
    if existing is not None:
        if existing.status != "valid":
            raise AcmeProblem("unauthorized", f"the account of this key is {existing.status}")
        return existing, False
    if payload.get("onlyReturnExisting") is True:
        raise AcmeProblem("accountDoesNotExist", "no account has this key")
    contact = _contacts(payload)
    binding = payload.get("externalAccountBinding")
    eab_key = None
    if binding is not None:
        eab_key = _check_binding(binding, url, key)
    elif endpoint.eab_required:
        raise AcmeProblem("externalAccountRequired",
                          "this endpoint needs an external account binding (EAB key id and "
                          "HMAC key, from `portal acme eab create`)")
    account = AcmeAccount(
        endpoint_id=endpoint.id, thumbprint=key.thumbprint, jwk=json.dumps(key.jwk),
        contact=json.dumps(contact), status="valid",
        eab_key_id=eab_key.id if eab_key else None,
        user_id=eab_key.user_id if eab_key else None,
    )
    db.session.add(account)
    try:
        db.session.flush()
    except IntegrityError:  # the same key registered at the same moment elsewhere, or its EAB
        db.session.rollback()
        existing = _by_thumbprint(endpoint, key.thumbprint)
        if existing is None:
            raise AcmeProblem("unauthorized", "this EAB key is bound to another account") \
                from None
        return existing, False
    audit.record("acme.account.create", actor=_actor(endpoint, account),
                 detail=f"key {key.thumbprint}" + (f" eab {eab_key.key_id}" if eab_key else ""))
    db.session.commit()
    return account, True


def _check_binding(binding, url: str, key: jws.AccountKey) -> AcmeEabKey:
    key_id = eab.binding_key_id(binding)
    row = db.session.scalar(select(AcmeEabKey).filter_by(key_id=key_id))
    if row is None:
        raise AcmeProblem("unauthorized", "unknown EAB key id")
    hmac_key = eab.unseal_hmac_key(row.hmac_sealed, ca_secret(), key_id=row.key_id)
    eab.check_binding(binding, hmac_key, url=url, account=key)
    taken = db.session.scalar(select(AcmeAccount.id).filter_by(eab_key_id=row.id))
    if taken is not None:
        raise AcmeProblem("unauthorized", "this EAB key is bound to another account")
    return row


def _by_thumbprint(endpoint: AcmeEndpoint, thumbprint: str) -> AcmeAccount | None:
    return db.session.scalar(
        select(AcmeAccount).filter_by(endpoint_id=endpoint.id, thumbprint=thumbprint)
    )


def _actor(endpoint: AcmeEndpoint, account: AcmeAccount) -> str:
    return f"acme:{endpoint.name}:account {account.id}"


def update_account(endpoint: AcmeEndpoint, signed: Authenticated, account_id: int
                   ) -> AcmeAccount:
    """POST to the account URL: read it, change its contacts, or deactivate it."""
    if signed.account is None or signed.account.id != account_id:
        raise AcmeProblem("unauthorized", "an account can only be read or changed by its key")
    payload = signed.payload()
    if not payload:
        return signed.account
    account = orm_account(signed.account)
    status = payload.get("status")
    if status is not None and status != "deactivated":
        raise AcmeProblem("malformed", "an account's status can only be set to deactivated")
    if "contact" in payload:
        account.contact = json.dumps(_contacts(payload))
        audit.record("acme.account.update", actor=_actor(endpoint, account),
                     detail=f"contact {account.contact[:200]}")
    if status == "deactivated":
        account.status = "deactivated"
        audit.record("acme.account.deactivate", actor=_actor(endpoint, account))
    db.session.commit()
    return account


def change_key(endpoint: AcmeEndpoint, signed: Authenticated, url: str, base: str) -> AcmeAccount:
    """KeyChange (§7.3.5): the inner JWS, signed by the new key, names the account and old key."""
    account = orm_account(signed.account)
    payload_raw = signed.request.payload
    try:
        inner = jws.parse_request(payload_raw, inner=True)
    except AcmeProblem as exc:
        raise AcmeProblem("malformed", f"the inner keyChange JWS: {exc.message}") from None
    if inner.jwk is None or inner.kid is not None:
        raise AcmeProblem("malformed", "the inner keyChange JWS must carry the new key as jwk")
    if inner.url != url:
        raise AcmeProblem("unauthorized", "the inner keyChange JWS url is not keyChange's")
    jws.verify(inner, inner.jwk)
    body = inner.payload_json() or {}
    if body.get("account") != account_url(base, account.id):
        raise AcmeProblem("unauthorized", "the inner keyChange JWS names another account")
    try:
        old = jws.account_key(body.get("oldKey"))
    except AcmeProblem:
        raise AcmeProblem("malformed", "the inner keyChange JWS has no usable oldKey") from None
    if old.thumbprint != account.thumbprint:
        raise AcmeProblem("unauthorized", "oldKey is not the account's current key")
    new = inner.jwk
    holder = _by_thumbprint(endpoint, new.thumbprint)
    if holder is not None:
        problem = AcmeProblem("malformed", "the new key belongs to an account already",
                              status=409)
        problem.location = account_url(base, holder.id)
        raise problem
    changed = db.session.execute(
        update(AcmeAccount).where(AcmeAccount.id == account.id,
                                  AcmeAccount.thumbprint == account.thumbprint)
        .values(thumbprint=new.thumbprint, jwk=json.dumps(new.jwk))
    ).rowcount
    if not changed:
        db.session.rollback()
        raise AcmeProblem("unauthorized", "the account key changed meanwhile")
    audit.record("acme.account.key_change", actor=_actor(endpoint, account),
                 detail=f"key {old.thumbprint} -> {new.thumbprint}")
    db.session.commit()
    db.session.refresh(account)
    return account


def create_eab_key(username: str, *, actor: str) -> tuple[AcmeEabKey, str]:
    """A new EAB key for a user: the row, and the HMAC key (base64url), shown only now."""
    user = db.session.scalar(select(User).filter_by(username=username))
    if user is None:
        raise NotFound(N_("no user named %(username)r"), field="user",
            username=username[:64])
    key_id = secrets.token_urlsafe(12)
    hmac_key = secrets.token_bytes(32)
    row = AcmeEabKey(key_id=key_id, user_id=user.id, created_by=actor[:128],
                     hmac_sealed=eab.seal_hmac_key(hmac_key, ca_secret(), key_id=key_id))
    db.session.add(row)
    audit.record("acme.eab.create", actor=actor, detail=f"key id {key_id} for {user.username}")
    db.session.commit()
    return row, jose.b64encode(hmac_key).decode()
