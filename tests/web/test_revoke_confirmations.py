"""Revoking asks once; bulk revocation; the last admin is not offered what the server refuses."""

import re

from cryptography import x509
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Certificate
from portal.services.authorities import create_ca
from portal.services.users import create_user
from tests.publishing import fetch_crl, issue, openssl
from tests.web.conftest import csrf_token


def _bulk(client, ids, **fields):
    data = {"ids": [str(i) for i in ids], "reason": "keyCompromise", "confirm": "y",
            "csrf_token": csrf_token(client, "/certificates"), **fields}
    return client.post("/certificates/revoke", data=data)


def _revoked_count():
    return db.session.scalar(select(func.count()).select_from(Certificate).filter_by(
        status="revoked"))


def test_revoking_one_asks_once_with_the_box(admin_web):
    row, _cert, _key = issue("client", name="once")
    body = admin_web.get(f"/certificates/{row.id}").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/certificates/\d+/revoke"[^>]*>', body).group(0)
    assert "confirm-form" not in form and "data-confirm" not in form  # no second dialog
    assert re.search(r'<input[^>]*id="confirm"[^>]*required', body)  # the box, checked by the
    # browser before the post and by the server after it


def test_a_user_revoking_their_own_is_asked_once_too(web, plain_user, root_ca):
    from portal.services import issuance
    from tests.pki import make_csr
    from tests.web.conftest import USER_PASSWORD, sign_in

    row = issuance.issue_from_csr(make_csr("bob"), "client", owner_id=plain_user.id,
                                  actor="test")
    assert sign_in(web, "bob", USER_PASSWORD).status_code == 302
    body = web.get(f"/account/certificates/{row.id}").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/account/certificates/\d+/revoke"[^>]*>',
                     body).group(0)
    assert "confirm-form" not in form and "data-confirm" not in form
    assert re.search(r'<input[^>]*id="confirm"[^>]*required', body)


def test_a_bulk_revoke_of_three_puts_all_three_on_the_next_crl(admin_web, root_ca, tmp_path):
    rows = [issue("client", name=f"bulk-{n}")[0] for n in range(4)]
    chosen = rows[:3]
    response = _bulk(admin_web, [row.id for row in chosen])
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    page = admin_web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Revoked 3 certificates (Key compromise" in page
    crl = fetch_crl(admin_web)
    assert {entry.serial_number for entry in crl} == {int(row.serial, 16) for row in chosen}
    for entry in crl:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        assert reason == x509.ReasonFlags.key_compromise
    (tmp_path / "crl.der").write_bytes(admin_web.get("/crl.der").data)
    text = openssl("crl", "-inform", "DER", "-in", str(tmp_path / "crl.der"), "-noout",
                   "-text").stdout
    assert all(f"Serial Number: {row.serial}" in text for row in chosen)
    events = db.session.scalars(select(AuditEvent).filter_by(action="certificate.revoke")).all()
    assert sorted(event.serial for event in events) == sorted(row.serial for row in chosen)


def test_bulk_revoke_across_cas_resigns_each_crl(admin_web, root_ca):
    create_ca("team", key_type="ec-p256", actor="test")
    mine = issue("client", name="root-one")[0]
    theirs = issue("client", name="team-one", ca="team")[0]
    assert _bulk(admin_web, [mine.id, theirs.id]).status_code == 302
    assert {e.serial_number for e in fetch_crl(admin_web)} == {int(mine.serial, 16)}
    team = fetch_crl(admin_web, "/ca/team/crl.der")
    assert {e.serial_number for e in team} == {int(theirs.serial, 16)}


def test_bulk_revoke_refusals_write_nothing(admin_web, root_ca):
    rows = [issue("client", name=f"keep-{n}")[0] for n in range(2)]
    unticked = _bulk(admin_web, [rows[0].id], confirm="")
    assert unticked.status_code == 400
    assert "Tick the box to confirm the revocation." in unticked.get_data(as_text=True)
    nothing = _bulk(admin_web, [])
    assert nothing.status_code == 400
    assert "select at least one certificate" in nothing.get_data(as_text=True)
    assert _bulk(admin_web, [rows[0].id, 999999]).status_code == 404
    assert _bulk(admin_web, ["x"]).status_code == 400
    assert _revoked_count() == 0
    assert _bulk(admin_web, [rows[0].id]).status_code == 302
    again = _bulk(admin_web, [rows[0].id])
    assert again.status_code == 409 and "already revoked" in again.get_data(as_text=True)
    mixed = _bulk(admin_web, [rows[0].id, rows[1].id])
    assert mixed.status_code == 302
    assert "1 were revoked already" in admin_web.get(mixed.headers["Location"]).get_data(
        as_text=True)


def test_the_list_offers_a_box_per_row(admin_web, root_ca):
    row = issue("client", name="listed")[0]
    body = admin_web.get("/certificates").get_data(as_text=True)
    assert re.search(rf'<input type="checkbox" name="ids" value="{row.id}" form="bulk-revoke"',
                     body)
    assert 'id="bulk-revoke"' in body


def test_the_last_admin_is_not_offered_disable_or_demote(admin_web, admin):
    body = admin_web.get("/users").get_data(as_text=True)
    assert f'/users/{admin.id}/active"' not in body and f'/users/{admin.id}/role"' not in body
    assert "The last active admin cannot be made a user or disabled" in body
    create_user("dora", role="admin", password="dora-password-0123", actor="test")
    body = admin_web.get("/users").get_data(as_text=True)
    assert f'/users/{admin.id}/active"' in body and f'/users/{admin.id}/role"' in body
