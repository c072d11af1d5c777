"""The JSON API on SQLite and PostgreSQL: owner-or-admin rules, errors as JSON, the OpenAPI doc.

Every response a test looks at is validated against /api/v1/openapi.json's own schemas.
"""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from openapi_spec_validator import validate as validate_spec
from sqlalchemy import func, select

from portal.ca.revocation import parse_reason
from portal.extensions import db
from portal.models import STATUS_PENDING, AuditEvent, Certificate
from portal.services import crl as crl_service
from portal.services import issuance, tokens, users
from tests.reliability.conftest import BACKENDS, bearer, server_csr
from tests.reliability.openapi_check import check

pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

CERTS = "/certificates"
ONE = "/certificates/{serial}"
REVOKE = "/certificates/{serial}/revoke"


def issue(client, token, host="www.example.com", profile="server", **extra):
    response = client.post("/api/v1/certificates", headers=bearer(token),
                           json={"csr": server_csr(host), "profile": profile, **extra})
    return response


def test_openapi_document_is_valid_and_public(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    validate_spec(response.json)
    assert set(response.json["paths"]) == {CERTS, ONE, REVOKE, "/openapi.json"}


def test_issue_returns_the_certificate_and_commits_its_row(client, people):
    bob, token = people["bob"]
    response = issue(client, token, "api.example.com")
    body = check(response, CERTS, "post")
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/certificates/{body['serial']}"
    certificate = x509.load_pem_x509_certificate(body["certificate"].encode())
    assert format(certificate.serial_number, "X").zfill(len(body["serial"])) == body["serial"]
    assert body["status"] == "issued" and body["owner"] == "bob" and body["ca"] == "root"
    assert body["sans"] == ["DNS:api.example.com"]
    db.session.remove()
    row = db.session.scalar(select(Certificate).filter_by(serial=body["serial"]))
    assert row.status == "issued" and row.owner_id == bob
    assert row.der == certificate.public_bytes(serialization.Encoding.DER)
    # A user's token asks under the profile's policy: bob's request, issued by the policy.
    actors = db.session.scalars(select(AuditEvent.actor).filter_by(serial=body["serial"])).all()
    assert set(actors) == {"policy:server"}
    requested = db.session.scalars(select(AuditEvent.actor).filter_by(action="request.create"))
    assert list(requested) == ["api:bob"]


def test_users_see_only_their_own_certificates_admins_see_all(client, people):
    _, alice = people["alice"]
    _, bob = people["bob"]
    _, carol = people["carol"]
    serial = issue(client, bob, "bob.example.com").json["serial"]
    issue(client, carol, "carol.example.com")
    assert check(client.get(f"/api/v1/certificates/{serial}", headers=bearer(bob)), ONE,
                 "get")["serial"] == serial
    assert check(client.get(f"/api/v1/certificates/{serial}", headers=bearer(alice)), ONE,
                 "get")["owner"] == "bob"
    hidden = client.get(f"/api/v1/certificates/{serial}", headers=bearer(carol))
    assert hidden.status_code == 404 and check(hidden, ONE, "get")["field"] == "serial"
    mine = check(client.get("/api/v1/certificates", headers=bearer(bob)), CERTS, "get")
    assert [item["owner"] for item in mine["items"]] == ["bob"]
    everything = check(client.get("/api/v1/certificates", headers=bearer(alice)), CERTS, "get")
    assert {item["owner"] for item in everything["items"]} == {"bob", "carol"}
    refused = client.post(f"/api/v1/certificates/{serial}/revoke", headers=bearer(carol))
    assert refused.status_code == 404
    check(refused, REVOKE, "post")


def test_search_filters_and_pages_with_a_cursor(client, people):
    _, alice = people["alice"]
    for index in range(5):
        issue(client, alice, f"h{index}.example.com")
    first = check(client.get("/api/v1/certificates?limit=2", headers=bearer(alice)), CERTS, "get")
    assert len(first["items"]) == 2 and first["count"] == 5 and first["next"]
    second = check(client.get(first["next"], headers=bearer(alice)), CERTS, "get")
    assert len(second["items"]) == 2
    assert not {i["serial"] for i in first["items"]} & {i["serial"] for i in second["items"]}
    found = check(client.get("/api/v1/certificates?q=h3.example", headers=bearer(alice)),
                  CERTS, "get")
    assert [item["common_name"] for item in found["items"]] == ["h3.example.com"]
    none = check(client.get("/api/v1/certificates?status=revoked", headers=bearer(alice)),
                 CERTS, "get")
    assert none["items"] == [] and none["next"] is None
    for bad in ("status=lost", "limit=0", "limit=201", "expiring=x", "sort=random", "ca=nope",
                "after=" + "9" * 65):
        response = client.get(f"/api/v1/certificates?{bad}", headers=bearer(alice))
        assert response.status_code == 400, bad
        check(response, CERTS, "get")


def test_revoke_puts_it_on_the_crl_and_only_once(client, people):
    _, bob = people["bob"]
    serial = issue(client, bob, "gone.example.com").json["serial"]
    response = client.post(f"/api/v1/certificates/{serial}/revoke", headers=bearer(bob),
                           json={"reason": "keyCompromise"})
    body = check(response, REVOKE, "post")
    assert body["status"] == "revoked" and body["revocation_reason"] == "keyCompromise"
    crl = x509.load_der_x509_crl(crl_service.current_crls(None, chain=False, actor="t")[0][1])
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    again = client.post(f"/api/v1/certificates/{serial}/revoke", headers=bearer(bob))
    assert again.status_code == 409
    check(again, REVOKE, "post")
    bad_reason = client.post(f"/api/v1/certificates/{serial}/revoke", headers=bearer(bob),
                             json={"reason": "boredom"})
    assert bad_reason.status_code == 400
    check(bad_reason, REVOKE, "post")


def test_tokens_missing_unknown_revoked_or_of_a_disabled_user_get_401(client, people):
    bob, token = people["bob"]
    for headers in ({}, {"Authorization": "Basic Ym9iOmJvYg=="}, bearer("pt_" + "A" * 43),
                    bearer("not-a-token"), {"Authorization": "Bearer "}):
        response = client.get("/api/v1/certificates", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        check(response, CERTS, "get")
    assert client.get("/api/v1/certificates", headers=bearer(token)).status_code == 200
    token_id = tokens.list_tokens(user_id=bob)[0].id
    tokens.revoke_token(token_id, actor="t")
    assert client.get("/api/v1/certificates", headers=bearer(token)).status_code == 401
    _, second = tokens.create_token("bob", actor="t")
    assert client.get("/api/v1/certificates", headers=bearer(second)).status_code == 200
    users.set_active(bob, False, actor="t")
    assert client.get("/api/v1/certificates", headers=bearer(second)).status_code == 401


def count_rows() -> tuple:
    db.session.remove()
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Certificate, AuditEvent))


def test_bad_requests_are_json_errors_and_write_nothing(app, client, people):
    _, alice = people["alice"]
    headers = bearer(alice)
    before = count_rows()
    cases = [
        ({"data": "csr=x", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"data": "{", "content_type": "application/json"}, 400),
        ({"data": "[" * 100_000, "content_type": "application/json"}, 400),
        ({"data": b"\xff\xfe\x00", "content_type": "application/json"}, 400),
        ({"json": ["csr"]}, 400),
        ({"json": {"profile": "server"}}, 400),
        ({"json": {"csr": 5, "profile": "server"}}, 400),
        ({"json": {"csr": server_csr(), "profile": "ca"}}, 400),
        ({"json": {"csr": server_csr(), "profile": "server", "admin": True}}, 400),
        ({"json": {"csr": server_csr(), "profile": "server", "days": "9"}}, 400),
        ({"json": {"csr": server_csr(), "profile": "server", "days": True}}, 400),
        ({"json": {"csr": server_csr(), "profile": "server", "days": 0}}, 400),
        ({"json": {"csr": server_csr(), "profile": "server", "ca": "nope"}}, 404),
        ({"json": {"csr": "\ud800", "profile": "server"}}, 400),
        ({"json": {"csr": "x" * 300_000, "profile": "server"}}, 413),
    ]
    for kwargs, status in cases:
        response = client.post("/api/v1/certificates", headers=headers, **kwargs)
        assert response.status_code == status, (kwargs, response.json)
        check(response, CERTS, "post")
    assert client.get("/api/v1/nothing", headers=headers).status_code == 404
    assert client.get("/api/v1/nothing", headers=headers).json["status"] == 404
    wrong_method = client.delete("/api/v1/certificates", headers=headers)
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"]
    assert count_rows() == before


def test_no_csrf_token_needed_but_no_cookie_accepted_either(app, client, people):
    assert app.config.get("WTF_CSRF_ENABLED", True)
    _, bob = people["bob"]
    assert issue(client, bob).status_code == 201  # no CSRF token, no session
    assert "Set-Cookie" not in issue(client, bob).headers


def test_profiles_a_user_may_request_are_configurable(app, client, people):
    _, bob = people["bob"]
    _, alice = people["alice"]
    app.config["PORTAL_API_USER_PROFILES"] = "client"
    refused = issue(client, bob, profile="server")
    assert refused.status_code == 403
    check(refused, CERTS, "post")
    assert issue(client, alice, profile="server").status_code == 201


def test_a_pending_row_left_by_a_crash_is_listed_for_admins_and_can_be_revoked(
    app, client, people, monkeypatch
):
    bob, bob_token = people["bob"]
    _, alice = people["alice"]

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(issuance, "build_certificate", crash)
    with pytest.raises(RuntimeError):
        issuance.issue_from_csr(server_csr().encode(), "server", owner_id=bob, actor="t")
    monkeypatch.undo()
    pending = check(client.get("/api/v1/certificates?status=pending", headers=bearer(alice)),
                    CERTS, "get")["items"]
    assert len(pending) == 1 and pending[0]["status"] == STATUS_PENDING
    serial = pending[0]["serial"]
    shown = check(client.get(f"/api/v1/certificates/{serial}", headers=bearer(alice)), ONE, "get")
    assert shown["certificate"] is None
    revoked = client.post(f"/api/v1/certificates/{serial}/revoke", headers=bearer(alice),
                          json={"reason": "cessationOfOperation"})
    assert check(revoked, REVOKE, "post")["status"] == "revoked"
    assert check(client.get("/api/v1/certificates?status=pending", headers=bearer(bob_token)),
                 CERTS, "get")["items"] == []


def test_a_users_token_is_held_to_the_profiles_self_service_policy(client, people):
    from portal.services import policy

    _, bob = people["bob"]
    _, alice = people["alice"]
    outside = issue(client, bob, "www.other.org")  # not under the policy's example.com
    assert outside.status_code == 400
    assert check(outside, CERTS, "post")["field"]
    assert issue(client, alice, "www.other.org").status_code == 201  # admins are not limited
    db.session.remove()
    policy.set_policy("server", self_service=True, auto_issue=False, common_name_rule="any",
                      email_rule="none", dns_suffixes="example.com", actor="t")
    before = db.session.scalar(select(func.count()).select_from(Certificate))
    waiting = issue(client, bob, "later.example.com")
    body = check(waiting, CERTS, "post")
    assert waiting.status_code == 202 and body["status"] == "pending"
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == before
    assert issue(client, bob, "x.example.com", ca="other").status_code == 403


def test_api_requests_skip_the_limiter_and_the_cookie_session(client, people, monkeypatch):
    """The API's per-request savings, shown by what they skip (pages still go through both)."""
    from flask.sessions import SecureCookieSessionInterface
    from flask_limiter import Limiter

    consulted = []
    monkeypatch.setattr(Limiter, "_check_request_limit",
                        lambda self, *args, **kwargs: consulted.append("limiter"))
    opened = SecureCookieSessionInterface.open_session
    monkeypatch.setattr(SecureCookieSessionInterface, "open_session",
                        lambda self, app, request: consulted.append("session")
                        or opened(self, app, request))
    _, token = people["alice"]
    assert issue(client, token, "skip.example.com").status_code == 201
    assert consulted == []
    client.get("/login")  # the decorated sign-in view may consult the limiter twice
    assert set(consulted) == {"limiter"}  # no cookie sent: no session opened either
    consulted.clear()
    client.set_cookie(client.application.config["SESSION_COOKIE_NAME"], "a-stale-cookie")
    client.get("/login")
    assert set(consulted) == {"session", "limiter"}


@pytest.mark.parametrize("reason", [None, "cACompromise", "CACompromise", "privilegeWithdrawn",
                                    "affiliationChanged", "unspecified"])
def test_a_users_token_revokes_only_with_the_reasons_a_user_may_give(client, people, reason):
    """As on the pages: keyCompromise, superseded or cessationOfOperation; the rest is admins'."""
    _, bob = people["bob"]
    _, alice = people["alice"]
    serial = issue(client, bob, "mine.example.com").json["serial"]
    body = {} if reason is None else {"reason": reason}
    refused = client.post(f"/api/v1/certificates/{serial}/revoke", headers=bearer(bob), json=body)
    assert refused.status_code == 400
    assert check(refused, REVOKE, "post")["field"] == "reason"
    shown = client.get(f"/api/v1/certificates/{serial}", headers=bearer(bob)).json
    assert shown["status"] == "issued"
    if reason is not None:  # an admin's token may
        done = client.post(f"/api/v1/certificates/{serial}/revoke", headers=bearer(alice),
                           json=body)
        assert check(done, REVOKE, "post")["revocation_reason"] == parse_reason(reason)
