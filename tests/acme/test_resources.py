"""The other ACME resources in process: wildcards, IPs, reuse, revocation, key change, EAB, ARI."""

import json

import josepy as jose
import pytest
from acme import jws as acme_jws
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from portal.acme_models import AcmeAccount
from portal.ca.serials import serial_to_hex
from portal.extensions import db
from portal.models import Certificate, User
from portal.services.acme_accounts import create_eab_key
from portal.services.acme_certs import ari_id
from portal.services.acme_endpoints import create_endpoint, set_enabled

from .conftest import DIRECTORY
from .flow import finalize, order_ready
from .jwsclient import Client, flask_transport, new_key


def issued(client, http01, names):
    order_url = order_ready(client, http01, names)
    reply = finalize(client, order_url, names)
    assert reply.status == 200, reply
    chain = client.post(reply.json["certificate"]).body
    return x509.load_pem_x509_certificates(chain)[0], order_url


def test_directory_and_new_nonce(acme_app):
    web = acme_app.test_client()
    directory = web.get(DIRECTORY).get_json()
    assert set(directory) >= {"newNonce", "newAccount", "newOrder", "revokeCert", "keyChange",
                              "renewalInfo", "meta"}
    head = web.head(directory["newNonce"])
    assert head.status_code == 200 and head.headers["Replay-Nonce"]
    assert head.headers["Cache-Control"] == "no-store"
    get = web.get(directory["newNonce"])
    assert get.status_code == 204 and get.headers["Replay-Nonce"] != head.headers["Replay-Nonce"]
    assert web.get("/acme/nothing/directory").status_code == 404


def test_a_disabled_endpoint_answers_404(acme):
    set_enabled("test", False, actor="test")
    reply = acme.post(acme.kid, None)
    assert reply.status == 404 and reply.headers["replay-nonce"]


def test_an_ip_is_offered_no_dns01(acme):
    order = acme.post(acme.directory["newOrder"], {"identifiers": [
        {"type": "ip", "value": "127.0.0.1"}]}).json
    authz = acme.post(order["authorizations"][0]).json
    assert sorted(c["type"] for c in authz["challenges"]) == ["http-01", "tls-alpn-01"]


def test_a_wildcard_is_offered_dns01_only_and_its_base_name_everything(acme):
    # Refused (rejectedIdentifier) before the lint learnt wildcards the CA/B way.
    reply = acme.post(acme.directory["newOrder"], {"identifiers": [
        {"type": "dns", "value": "*.acme.test"}, {"type": "dns", "value": "acme.test"}]})
    assert reply.status == 201, reply
    assert reply.json["identifiers"] == [{"type": "dns", "value": "*.acme.test"},
                                         {"type": "dns", "value": "acme.test"}]
    offered = {}
    for url in reply.json["authorizations"]:
        authz = acme.post(url).json
        assert authz["identifier"] == {"type": "dns", "value": "acme.test"}  # §7.1.4
        offered[authz.get("wildcard", False)] = sorted(c["type"] for c in authz["challenges"])
    assert offered == {True: ["dns-01"], False: ["dns-01", "http-01", "tls-alpn-01"]}


@pytest.mark.parametrize("name", ["*.", "*.*.acme.test", "a.*.acme.test", "*.test"])
def test_a_wildcard_the_cabf_refuses_is_refused_at_new_order(acme, name):
    reply = acme.post(acme.directory["newOrder"], {"identifiers": [
        {"type": "dns", "value": name}]})
    assert reply.status == 400 and reply.problem == "rejectedIdentifier", reply


def test_an_ip_address_certificate_through_http01(acme, http01):
    certificate, _ = issued(acme, http01, ["127.0.0.1"])
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_a_valid_authorization_is_reused_and_the_new_order_is_ready(acme, http01):
    issued(acme, http01, ["www.acme.test"])
    asked = len(http01.requests)
    again = acme.post(acme.directory["newOrder"], {"identifiers": [
        {"type": "dns", "value": "www.acme.test"}]})
    assert again.json["status"] == "ready"
    assert len(http01.requests) == asked


def test_revocation_by_the_account_and_by_the_certificate_key(acme, acme_app, http01):
    certificate, _ = issued(acme, http01, ["www.acme.test"])
    der = jose.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    stranger = Client(flask_transport(acme_app.test_client()), DIRECTORY)
    stranger.register()
    reply = stranger.post(acme.directory["revokeCert"], {"certificate": der})
    assert reply.status == 403 and reply.problem == "unauthorized"
    reply = acme.post(acme.directory["revokeCert"], {"certificate": der, "reason": 4})
    assert reply.status == 200, reply
    row = db.session.query(Certificate).filter_by(
        serial=serial_to_hex(certificate.serial_number)).one()
    assert (row.status, row.revocation_reason) == ("revoked", "superseded")
    again = acme.post(acme.directory["revokeCert"], {"certificate": der})
    assert again.problem == "alreadyRevoked"


def test_key_change_moves_the_account_to_the_new_key(acme):
    new = new_key("ec-p256")
    url = acme.directory["keyChange"]
    inner = acme_jws.JWS.sign(
        json.dumps({"account": acme.kid,
                    "oldKey": acme.key.public_key().to_partial_json()}).encode(),
        key=new, alg=jose.ES256, nonce=None, url=url)
    reply = acme.post(url, inner.to_partial_json())
    assert reply.status == 200, reply
    old = acme.key
    acme.key = new
    assert acme.post(acme.kid, None).status == 200
    acme.key = old
    assert acme.post(acme.kid, None).problem == "unauthorized"


def test_eab_binds_the_account_to_the_user(acme_app):
    db.session.add(User(username="alice", password_hash="x"))
    db.session.commit()
    create_endpoint("eab", ca_name="root", domains=["acme.test"], eab_required=True,
                    actor="test")
    row, hmac_key = create_eab_key("alice", actor="test")
    client = Client(flask_transport(acme_app.test_client()),
                    DIRECTORY.replace("/test/", "/eab/"))
    url = client.directory["newAccount"]
    binding = acme_jws.JWS.sign(
        json.dumps(client.key.public_key().to_partial_json()).encode(),
        key=jose.JWKOct(key=jose.b64decode(hmac_key)), alg=jose.HS256, nonce=None, url=url,
        kid=row.key_id)
    reply = client.register(externalAccountBinding=binding.to_partial_json())
    assert reply.status == 201, reply
    account = db.session.query(AcmeAccount).filter_by(endpoint_id=2).one()
    assert account.user_id == db.session.query(User).filter_by(username="alice").one().id
    assert row.hmac_sealed.find(jose.b64decode(hmac_key)) == -1
    # the key binds one account only
    other = Client(flask_transport(acme_app.test_client()), DIRECTORY.replace("/test/", "/eab/"))
    reused = acme_jws.JWS.sign(
        json.dumps(other.key.public_key().to_partial_json()).encode(),
        key=jose.JWKOct(key=jose.b64decode(hmac_key)), alg=jose.HS256, nonce=None, url=url,
        kid=row.key_id)
    assert other.register(externalAccountBinding=reused.to_partial_json()).problem \
        == "unauthorized"


def test_renewal_info_suggests_the_last_third(acme, acme_app, http01):
    certificate, _ = issued(acme, http01, ["www.acme.test"])
    info = acme_app.test_client().get(
        f"{acme.directory['renewalInfo']}/{ari_id(certificate)}")
    assert info.status_code == 200 and info.headers["Retry-After"] == "21600"
    window = info.get_json()["suggestedWindow"]
    assert window["start"] < window["end"]
    assert window["start"] > certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_orders_list_shows_unfinished_orders(acme):
    made = [acme.post(acme.directory["newOrder"], {"identifiers": [
        {"type": "dns", "value": f"h{i}.acme.test"}]}).headers["location"] for i in range(3)]
    assert acme.post(acme.kid + "/orders").json["orders"] == made


@pytest.mark.parametrize("kind", ["rsa", "ec-p256", "ec-p384"])
def test_rsa_and_ec_account_keys(acme_app, kind):
    client = Client(flask_transport(acme_app.test_client()), DIRECTORY, key=new_key(kind))
    assert client.register().status == 201


def test_an_ed25519_account_key(acme_app):
    web = acme_app.test_client()
    directory = web.get(DIRECTORY).get_json()
    key = jwcrypto_jwk.JWK.generate(kty="OKP", crv="Ed25519")
    nonce = web.head(directory["newNonce"]).headers["Replay-Nonce"]
    signed = jwcrypto_jws.JWS(json.dumps({"termsOfServiceAgreed": True}))
    signed.add_signature(key, alg="EdDSA", protected=json.dumps({
        "alg": "EdDSA", "nonce": nonce, "url": directory["newAccount"],
        "jwk": key.export_public(as_dict=True)}))
    reply = web.post(directory["newAccount"], data=signed.serialize(),
                     content_type="application/jose+json")
    assert reply.status_code == 201, reply.get_data()
    stored = db.session.query(AcmeAccount).one()
    assert json.loads(stored.jwk) == key.export_public(as_dict=True)
    assert stored.thumbprint == key.thumbprint()


def test_wrong_methods_and_unknown_paths_are_problem_documents_with_a_nonce(acme_app):
    web = acme_app.test_client()
    for method, path in (("GET", "/acme/test/new-account"), ("POST", "/acme/test/nothing"),
                         ("PUT", "/acme/test/directory")):
        reply = web.open(path, method=method)
        assert reply.status_code in (404, 405), (method, path, reply.status_code)
        assert reply.content_type == "application/problem+json"
        assert reply.get_json()["type"] == "urn:ietf:params:acme:error:malformed"
        assert reply.headers["Replay-Nonce"]
