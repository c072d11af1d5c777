"""Defect 9 of issue 14: one owner rule on every path, a cleared Add-user form, honest days."""

import re
from datetime import UTC, datetime, timedelta

from cryptography import x509
from sqlalchemy import select

from portal.extensions import db
from portal.models import Certificate
from portal.services import tokens
from portal.web.filters import relative
from tests.pki import make_csr
from tests.web.conftest import csrf_token, post


def _issue_on_page(client, host: str, days: str = "") -> Certificate:
    csr = make_csr(host, sans=[x509.DNSName(host)])
    data = {"csr": csr.decode(), "profile": "server", "ca": "root", "step": "sign",
            "days": days, "csrf_token": csrf_token(client, "/issue")}
    response = client.post("/issue", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    ident = int(response.headers["Location"].rsplit("/", 1)[1])
    return db.session.get(Certificate, ident)


def _owner_cell(client, certificate_id: int) -> str:
    body = client.get("/certificates").get_data(as_text=True)
    row = re.search(rf'href="/certificates/{certificate_id}">.*?</tr>', body, re.S).group(0)
    return re.findall(r"<td>([^<]*)</td>", row)[-1]


def test_the_admin_who_issues_owns_it_on_the_page_and_through_the_api(admin_web, admin, client):
    page = _issue_on_page(admin_web, "page.example.com")
    _row, token = tokens.create_token("alice", actor="test")
    response = client.post("/api/v1/certificates", headers={"Authorization": f"Bearer {token}"},
                           json={"csr": make_csr("api.example.com", sans=[
                               x509.DNSName("api.example.com")]).decode(), "profile": "server"})
    assert response.status_code == 201 and response.json["owner"] == "alice"
    api = db.session.scalar(select(Certificate).filter_by(serial=response.json["serial"]))
    assert page.owner_id == api.owner_id == admin.id
    assert _owner_cell(admin_web, page.id) == _owner_cell(admin_web, api.id) == "alice"


def test_a_generated_key_is_owned_by_the_admin_who_made_it(admin_web, admin):
    response = post(admin_web, "/generate", {
        "common_name": "Jane Doe", "profile": "client", "key_type": "ec-p256",
        "password": "jane-password-0123", "compatibility": "compatible", "output": "p12",
        "ca": "root"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    row = db.session.scalar(select(Certificate).filter_by(
        serial=response.headers["X-Certificate-Serial"]))
    assert row.owner_id == admin.id


def test_the_add_user_form_is_empty_after_success(admin_web):
    response = post(admin_web, "/users", {"username": "carol", "email": "carol@example.org",
                                          "role": "user", "password": ""})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "carol" in body  # the generated password, once
    form = body[body.index("Add a user"):]
    assert re.search(r'name="username"[^>]*value=""', form) or not re.search(
        r'name="username"[^>]*value="', form), form[:800]
    assert "carol@example.org" not in form


def test_a_20_day_certificate_reads_in_20_days(admin_web):
    row = _issue_on_page(admin_web, "twenty.example.com", days="20")
    body = admin_web.get(f"/certificates/{row.id}").get_data(as_text=True)
    assert "in 20 days" in body and "in 19 days" not in body


def test_relative_times_round_to_the_nearest_unit():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert relative(now + timedelta(days=20) - timedelta(seconds=5), now) == "in 20 days"
    assert relative(now + timedelta(days=19, hours=11), now) == "in 19 days"
    assert relative(now + timedelta(days=1), now) == "in 1 day"
    assert relative(now - timedelta(hours=2, minutes=50), now) == "3 hours ago"
    assert relative(now + timedelta(seconds=30), now) == "in a moment"
