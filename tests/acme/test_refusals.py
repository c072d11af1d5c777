"""Refusals with the RFC 8555 problem types, each with a fresh Replay-Nonce, writing nothing."""

import json

import josepy as jose
from acme import jws as acme_jws
from cryptography.hazmat.primitives import serialization

from portal.acme_models import AcmeAccount, AcmeOrder
from portal.extensions import db
from portal.services.acme_endpoints import create_endpoint

from .conftest import DIRECTORY
from .flow import finalize, make_csr, order_ready, validate_now
from .jwsclient import Client, flask_transport


def new_order(client, *names):
    return client.post(client.directory["newOrder"],
                       {"identifiers": [{"type": "dns", "value": n} for n in names]})


def assert_problem(reply, kind, status=400):
    assert reply.status == status, reply
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json["type"] == f"urn:ietf:params:acme:error:{kind}"
    assert reply.headers["replay-nonce"]  # errors carry a fresh nonce too


def test_a_name_outside_the_endpoints_domains_is_a_rejected_identifier(acme):
    orders = db.session.query(AcmeOrder).count()
    reply = new_order(acme, "www.acme.test", "www.elsewhere.test")
    assert_problem(reply, "rejectedIdentifier")
    assert reply.json["identifier"] == {"type": "dns", "value": "www.elsewhere.test"}
    # a suffix matches whole labels only
    assert_problem(new_order(acme, "notacme.test"), "rejectedIdentifier")
    ip = acme.post(acme.directory["newOrder"],
                   {"identifiers": [{"type": "ip", "value": "10.1.2.3"}]})
    assert_problem(ip, "rejectedIdentifier")
    assert db.session.query(AcmeOrder).count() == orders


def test_an_unknown_identifier_type_is_unsupported(acme):
    reply = acme.post(acme.directory["newOrder"],
                      {"identifiers": [{"type": "email", "value": "a@acme.test"}]})
    assert_problem(reply, "unsupportedIdentifier")


def test_a_wrong_http01_answer_is_an_incorrect_response(acme, http01):
    order = new_order(acme, "www.acme.test")
    authz_url = order.json["authorizations"][0]
    challenge = next(c for c in acme.post(authz_url).json["challenges"]
                     if c["type"] == "http-01")
    http01.answers[challenge["token"]] = "not-the-key-authorization"
    acme.post(challenge["url"], {})
    assert validate_now() == 1
    shown = acme.post(challenge["url"]).json
    assert shown["status"] == "invalid"
    assert shown["error"]["type"] == "urn:ietf:params:acme:error:incorrectResponse"
    assert acme.post(authz_url).json["status"] == "invalid"
    assert acme.post(order.headers["location"]).json["status"] == "invalid"


def test_a_replayed_nonce_is_a_bad_nonce_with_a_fresh_one(acme):
    nonce = acme.new_nonce()
    first = acme.post(acme.kid, None, nonce=nonce)
    assert first.status == 200
    again = acme.post(acme.kid, None, nonce=nonce)
    assert_problem(again, "badNonce")
    assert again.headers["replay-nonce"] != nonce
    # the fresh nonce works (clients retry with it)
    assert acme.post(acme.kid, None, nonce=again.headers["replay-nonce"]).status == 200
    assert_problem(acme.post(acme.kid, None, nonce="bm90LWEtbm9uY2U"), "badNonce")


def test_a_nonce_is_handed_out_without_a_write_and_only_its_own_kind_is_taken(acme, acme_app,
                                                                              monkeypatch):
    import base64
    import time

    from portal.acme_models import AcmeNonce
    from portal.services import acme_nonces

    used = db.session.query(AcmeNonce).count()
    nonces = {acme.new_nonce() for _ in range(3)}
    assert len(nonces) == 3 and db.session.query(AcmeNonce).count() == used  # nothing written
    good = nonces.pop()
    raw = bytearray(base64.urlsafe_b64decode(good + "="))
    raw[7] ^= 1  # one random bit changed: the tag no longer matches
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert_problem(acme.post(acme.kid, None, nonce=forged), "badNonce")
    # made with another instance's key (another CA secret)
    acme_app.extensions["acme_nonce_key"] = b"k" * 32
    stranger = acme_nonces.new_nonce()
    del acme_app.extensions["acme_nonce_key"]
    assert_problem(acme.post(acme.kid, None, nonce=stranger), "badNonce")
    # an hour old: refused, though never used
    an_hour_ago = time.time() - 3601
    monkeypatch.setattr(acme_nonces.time, "time", lambda: an_hour_ago)
    old = acme_nonces.new_nonce()
    monkeypatch.undo()
    assert_problem(acme.post(acme.kid, None, nonce=old), "badNonce")
    assert acme.post(acme.kid, None, nonce=good).status == 200
    assert db.session.query(AcmeNonce).count() == used + 1  # only the one taken is a row


def test_a_url_header_that_is_not_the_request_url_is_unauthorized(acme):
    body = acme.sign(acme.directory["newOrder"], {"identifiers": [
        {"type": "dns", "value": "www.acme.test"}]})
    reply = acme.transport("POST", acme.kid, body, {"Content-Type": "application/jose+json"})
    status, headers, content = reply
    assert status == 403
    assert json.loads(content)["type"] == "urn:ietf:params:acme:error:unauthorized"
    assert headers["replay-nonce"]


def test_a_csr_with_a_name_the_order_does_not_have_is_a_bad_csr(acme, http01):
    order_url = order_ready(acme, http01, ["www.acme.test"])
    reply = finalize(acme, order_url, ["www.acme.test", "api.acme.test"])
    assert_problem(reply, "badCSR")
    assert "api.acme.test" in reply.json["detail"]
    reply = finalize(acme, order_url, ["www.acme.test"], common_name="other.acme.test")
    assert_problem(reply, "badCSR")
    # the account key cannot be the certificate key
    account_key = serialization.load_der_private_key(acme.key.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), None)
    reply = finalize(acme, order_url, ["www.acme.test"], key=account_key)
    assert_problem(reply, "badCSR")
    assert acme.post(order_url).json["status"] == "ready"  # still: nothing was issued


def test_finalize_before_the_order_is_ready_is_order_not_ready(acme):
    order = new_order(acme, "www.acme.test")
    der, _ = make_csr(["www.acme.test"])
    reply = acme.post(order.json["finalize"], {"csr": jose.b64encode(der).decode()})
    assert_problem(reply, "orderNotReady", status=403)


def test_an_account_without_eab_where_required_is_refused(acme_app):
    create_endpoint("eab", ca_name="root", domains=["acme.test"], eab_required=True,
                    actor="test")
    client = Client(flask_transport(acme_app.test_client()),
                    DIRECTORY.replace("/test/", "/eab/"))
    assert client.directory["meta"]["externalAccountRequired"] is True
    assert_problem(client.register(), "externalAccountRequired")
    assert db.session.query(AcmeAccount).count() == 0


def test_a_deactivated_account_is_unauthorized(acme):
    reply = acme.post(acme.kid, {"status": "deactivated"})
    assert reply.status == 200 and reply.json["status"] == "deactivated"
    assert_problem(new_order(acme, "www.acme.test"), "unauthorized", status=403)
    assert_problem(acme.post(acme.kid, None), "unauthorized", status=403)
    acme.kid = None  # newAccount with the same key does not bring it back
    assert_problem(acme.register(), "unauthorized", status=403)


def test_the_jws_must_be_flattened_with_one_of_jwk_and_kid(acme):
    url = acme.directory["newOrder"]
    payload = json.dumps({"identifiers": [{"type": "dns", "value": "www.acme.test"}]})
    both = acme_jws.JWS.sign(payload.encode(), key=acme.key, alg=jose.ES256,
                             nonce=jose.b64decode(acme.new_nonce()), url=url, kid=acme.kid)
    flat = both.to_partial_json()
    header = json.loads(jose.b64decode(flat["protected"]))
    assert "kid" in header
    general = {"payload": flat["payload"], "signatures": [
        {"protected": flat["protected"], "signature": flat["signature"]}]}
    for body in (general, {**flat, "header": {"kid": acme.kid}}):
        status, headers, content = acme.transport(
            "POST", url, json.dumps(body).encode(), {"Content-Type": "application/jose+json"})
        assert status == 400 and json.loads(content)["type"].endswith(":malformed")
    status, _, content = acme.transport("POST", url, json.dumps(flat).encode(),
                                        {"Content-Type": "application/json"})
    assert status == 415 and json.loads(content)["type"].endswith(":malformed")


def test_a_kid_naming_no_account_is_account_does_not_exist(acme):
    for kid in (acme.kid + "0", acme.kid.replace("/account/", "/accounts/"), "nonsense"):
        acme.kid, real = kid, acme.kid
        assert_problem(acme.post(real, None), "accountDoesNotExist")
        acme.kid = real
    assert acme.post(acme.kid, None).status == 200


def test_another_accounts_order_is_not_found(acme, acme_app):
    order = new_order(acme, "www.acme.test")
    other = Client(flask_transport(acme_app.test_client()), DIRECTORY)
    assert other.register().status == 201
    assert_problem(other.post(order.headers["location"]), "malformed", status=404)
    assert_problem(other.post(order.json["authorizations"][0]), "malformed", status=404)
