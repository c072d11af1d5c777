"""ACME certificates: finalize (§7.4), download (§7.4.2), revokeCert (§7.6), ARI (RFC 9773)."""

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import josepy as jose
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import current_app
from sqlalchemy import bindparam, select, update

from ..acme.identifiers import Identifier
from ..acme.problems import AcmeProblem, not_found
from ..acme_models import AcmeAccount, AcmeEndpoint, AcmeOrder
from ..ca.csr import load_csr
from ..ca.pem import to_pem
from ..ca.profiles import get_profile
from ..ca.serials import serial_to_hex
from ..ca.spki import certificate_spki
from ..errors import Conflict, PortalError
from ..extensions import db
from ..models import STATUS_REVOKED, Certificate, CertificateAuthority
from . import acme_rows, audit, ca_state, cache
from .acme_orders import order_identifiers, order_status
from .acme_rows import OrderRow
from .authorities import chain_of
from .certificates import revoke_certificate
from .driver import thread_connection
from .issuance import issue_for_key

# RFC 5280 reason codes an ACME client may give (certificateHold and removeFromCRL: no).
REASONS = {0: "unspecified", 1: "keyCompromise", 3: "affiliationChanged", 4: "superseded",
           5: "cessationOfOperation", 9: "privilegeWithdrawn"}
ARI_RETRY_AFTER = 6 * 3600


def _actor(endpoint: AcmeEndpoint, account: AcmeAccount | None) -> str:
    who = f"account {account.id}" if account is not None else "certificate key"
    return f"acme:{endpoint.name}:{who}"


def _csr_names(request) -> set[tuple[str, str]]:
    names = set()
    for name in request.sans:
        if isinstance(name, x509.DNSName):
            names.add(("dns", name.value.lower()))
        elif isinstance(name, x509.IPAddress):
            names.add(("ip", str(name.value)))
        else:
            raise AcmeProblem("badCSR", f"the CSR asks for a {type(name).__name__}; ACME "
                              "certificates carry DNS names and IP addresses only")
    return names


def _check_csr(payload: dict | None, identifiers: list[Identifier], account_key):
    csr_text = (payload or {}).get("csr")
    if not isinstance(csr_text, str):
        raise AcmeProblem("malformed", "finalize needs a csr (base64url DER)")
    try:
        der = jose.b64decode(csr_text)
    except (ValueError, TypeError):
        raise AcmeProblem("badCSR", "the csr is not base64url") from None
    config = current_app.config
    try:
        request = load_csr(der, max_bytes=config["PORTAL_MAX_CSR_BYTES"],
                           max_sans=config["PORTAL_MAX_SANS"])
    except PortalError as exc:
        raise AcmeProblem("badCSR", exc.message) from None
    wanted = {(i.type, i.value) for i in identifiers}
    asked = _csr_names(request)
    for attribute in request.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
        value = str(attribute.value).lower()
        asked.add(("dns", value) if ("dns", value) in wanted or ("ip", value) not in wanted
                  else ("ip", value))
    if asked != wanted:
        extra = sorted(v for _, v in asked - wanted)
        missing = sorted(v for _, v in wanted - asked)
        raise AcmeProblem("badCSR", "the CSR's names must be the order's identifiers"
                          + (f"; not in the order: {', '.join(extra)[:300]}" if extra else "")
                          + (f"; missing: {', '.join(missing)[:300]}" if missing else ""))
    account_spki = account_key.public_key.public_bytes(Encoding.DER,
                                                       PublicFormat.SubjectPublicKeyInfo)
    if request.spki == account_spki:
        raise AcmeProblem("badCSR", "the certificate key must not be the account key")
    return request


_ORDERS = AcmeOrder.__table__
_CLAIM = update(_ORDERS).where(_ORDERS.c.id == bindparam("order_id"),
                               _ORDERS.c.status == "ready").values(status="processing")
_ISSUED = update(_ORDERS).where(_ORDERS.c.id == bindparam("order_id")).values(
    status="valid", certificate_id=bindparam("certificate_id"))
_FAILED = update(_ORDERS).where(_ORDERS.c.id == bindparam("order_id")).values(
    status="invalid", error=bindparam("error"))


def finalize(endpoint, account, order, payload: dict | None, account_key) -> OrderRow:
    """Issue the order's certificate from the client's CSR, through the issuance service.

    The order is claimed (`processing`) in one commit, issued (the pending row first, as
    always), then `valid` with its audit event in another: all on the driver connection.
    """
    status = order_status(order)
    if status != "ready":
        raise AcmeProblem("orderNotReady", f"the order is {status}, not ready")
    identifiers = order_identifiers(order)
    request = _check_csr(payload, identifiers, account_key)
    with thread_connection(db.engine) as connection:
        connection.execute(_CLAIM, {"order_id": order.id})
        claimed = connection.cursor.rowcount
        connection.commit()
    if not claimed:
        raise AcmeProblem("orderNotReady", "the order is being finalized already")
    first = identifiers[0].value
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, first)]
                        if len(first) <= 64 else [])
    actor = _actor(endpoint, account)
    try:
        ca_name = _ca_states()[endpoint.ca_id].name
        issued = issue_for_key(
            request.public_key, request.key_type, subject,
            tuple(i.general_name() for i in identifiers), get_profile(endpoint.profile),
            ca_name=ca_name, days=endpoint.days, owner_id=account.user_id, actor=actor,
            spki=request.spki,
        )
    except Exception as exc:  # the order must not stay `processing` for ever
        message = exc.message if isinstance(exc, PortalError) else "an internal error"
        db.session.rollback()
        with thread_connection(db.engine) as connection:
            connection.execute(_FAILED, {"order_id": order.id, "error": json.dumps(
                AcmeProblem("serverInternal", message, status=500).document())})
            connection.commit()
        if not isinstance(exc, PortalError):
            raise
        raise AcmeProblem("serverInternal", f"the certificate was not issued: {message}",
                          status=500) from None
    with thread_connection(db.engine) as connection:
        connection.execute(_ISSUED, {"order_id": order.id, "certificate_id": issued.id})
        audit.insert_on_driver(connection, None, audit.event_row(
            "acme.issue", actor=actor, serial=issued.serial,
            detail=f"order {order.id} by {ca_name}: {issued.sans[:500]}"))
        connection.commit()
    return replace(order, status="valid", certificate_id=issued.id)


def certificate_chain(order) -> bytes:
    """The order's certificate and its CA chain up to the root, PEM."""
    found = None
    if order.status == "valid" and order.certificate_id is not None:
        found = acme_rows.certificate_der(order.certificate_id)
    if found is None or found[0] is None:
        raise not_found("certificate")
    der, ca_id = found
    return to_pem(x509.load_der_x509_certificate(der)) + chain_pem(ca_id)


def _ca_states() -> ca_state.CAStates:
    with thread_connection(db.engine) as connection:
        return ca_state.ca_states_on(connection)


def chain_pem(ca_id: int) -> bytes:
    """The CA's certificate and those above it, PEM, kept per process by their fingerprints."""
    states = _ca_states()
    key, node, seen = [], ca_id, set()
    while node is not None and node not in seen:
        seen.add(node)
        state = states[node]
        key.append((node, state.fingerprint_sha256))
        node = state.parent_id
    chains = cache.table("acme_certs.chains")
    found = chains.get(tuple(key))
    if found is None:
        ca = db.session.get(CertificateAuthority, ca_id)
        found = chains[tuple(key)] = b"".join(to_pem(c) for c in chain_of(ca))
    return found


def revoke(endpoint: AcmeEndpoint, account: AcmeAccount | None, key, payload: dict | None
           ) -> None:
    """revokeCert, signed by the account that ordered it or by the certificate's own key."""
    payload = payload or {}
    try:
        der = jose.b64decode(payload.get("certificate") or "")
        certificate = x509.load_der_x509_certificate(der)
    except (ValueError, TypeError):
        raise AcmeProblem("malformed", "certificate must be a base64url DER certificate") \
            from None
    reason = payload.get("reason", 0)
    if not isinstance(reason, int) or isinstance(reason, bool) or reason not in REASONS:
        raise AcmeProblem("badRevocationReason", "reason must be one of "
                          + ", ".join(str(r) for r in REASONS))
    row = db.session.scalar(select(Certificate).filter_by(
        serial=serial_to_hex(certificate.serial_number), ca_id=endpoint.ca_id))
    if row is None or row.der != der:
        raise AcmeProblem("malformed", "this endpoint did not issue that certificate",
                          status=404)
    if account is not None:
        owner = db.session.scalar(select(AcmeOrder.id).filter_by(account_id=account.id,
                                                                 certificate_id=row.id))
        if owner is None:
            raise AcmeProblem("unauthorized", "this account did not order that certificate")
    else:
        spki = key.public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        if spki != certificate_spki(der):
            raise AcmeProblem("unauthorized", "the request is not signed by the certificate's "
                              "key")
    if row.status == STATUS_REVOKED:
        raise AcmeProblem("alreadyRevoked", "the certificate is revoked already")
    try:
        revoke_certificate(row.serial, reason=REASONS[reason], ca_name=row.ca.name,
                           actor=_actor(endpoint, account))
    except Conflict:
        raise AcmeProblem("alreadyRevoked", "the certificate is revoked already") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def ari_id(certificate: x509.Certificate) -> str:
    """A certificate's ARI identifier: base64url(AKI keyIdentifier).base64url(serial DER)."""
    aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    serial = certificate.serial_number
    raw = serial.to_bytes((serial.bit_length() + 8) // 8, "big")  # DER INTEGER content
    return f"{_b64(aki.key_identifier)}.{_b64(raw)}"


def renewal_info(endpoint: AcmeEndpoint, cert_id: str) -> dict:
    """The suggested renewal window of a certificate this endpoint's CA issued (RFC 9773)."""
    try:
        _, serial_part = cert_id.split(".")
        serial = int.from_bytes(base64.urlsafe_b64decode(serial_part + "=" * (-len(serial_part)
                                                                              % 4)), "big")
    except (ValueError, TypeError):
        raise AcmeProblem("malformed", "not an ARI certificate identifier") from None
    row = db.session.scalar(select(Certificate).filter_by(serial=serial_to_hex(serial),
                                                          ca_id=endpoint.ca_id))
    if row is None or row.der is None or ari_id(x509.load_der_x509_certificate(row.der)) \
            != cert_id:
        raise not_found("certificate")
    now = datetime.now(UTC)
    if row.status == STATUS_REVOKED:
        start, end = now - timedelta(hours=1), now
    else:
        lifetime = row.not_after - row.not_before
        start = row.not_before + lifetime * 2 / 3
        end = start + lifetime / 6
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return {"suggestedWindow": {"start": start.strftime(stamp), "end": end.strftime(stamp)}}
