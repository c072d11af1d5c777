"""CSV and JSON exports: the certificate list with its filters (every page), and the audit log."""

import csv
import io
import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Certificate
from portal.services.authorities import create_ca
from tests.web.listing import add_rows


@pytest.fixture
def rows(admin_web, root_ca, admin):
    """120 server certificates under root, 30 client ones under another CA owned by alice."""
    other = create_ca("team", key_type="ec-p256", actor="test")
    add_rows(root_ca.id, 120)
    add_rows(other.id, 30, start=5000, owner_id=admin.id, profile="client")
    return other


def _listed(client, url: str) -> list[str]:
    """Every serial the list shows for url, following its Next links."""
    serials = []
    while url:
        body = client.get(url).get_data(as_text=True)
        serials += re.findall(r'<td class="mono" title="([0-9A-F]+)">', body)
        following = re.search(r'rel="next" href="([^"]+)"', body)
        url = following.group(1).replace("&amp;", "&") if following else None
    return serials


def _csv(client, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename="certificates-\d{8}T\d{6}Z\.csv"',
                        response.headers["Content-Disposition"])
    assert "no-store" in response.headers["Cache-Control"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("filters", [
    "", "q=host-0001", "profile=client&sort=expires", "status=issued&sort=-expires",
    "q=DNS:alt-0011", "ca=2&sort=oldest",
])
def test_the_csv_matches_the_filtered_list_over_every_page(admin_web, rows, filters):
    listed = _listed(admin_web, f"/certificates?{filters}")
    exported = _csv(admin_web, f"/certificates/export.csv?{filters}")
    assert [row["serial"] for row in exported] == listed
    assert listed  # each filter matches something


def test_the_export_link_carries_the_current_filters(admin_web, rows):
    body = admin_web.get("/certificates?profile=client&sort=expires&q=host").get_data(
        as_text=True)
    link = re.search(r'href="([^"]*/export\.csv[^"]*)"', body).group(1).replace("&amp;", "&")
    assert link.startswith("/certificates/export.csv?")
    assert sorted(link.split("?")[1].split("&")) == ["profile=client", "q=host", "sort=expires"]
    assert len(_csv(admin_web, link)) == 30


def test_csv_and_json_hold_the_same_values(admin_web, rows, admin):
    exported = _csv(admin_web, "/certificates/export.csv?profile=client")
    response = admin_web.get("/certificates/export.json?profile=client")
    assert response.mimetype == "application/json"
    items = response.get_json()
    assert len(items) == len(exported) == 30
    first = db.session.scalar(select(Certificate).filter_by(serial=items[0]["serial"]))
    assert items[0]["owner"] == exported[0]["owner"] == "alice"
    assert items[0]["ca"] == "team" and items[0]["sans"] == [first.sans]
    assert exported[0]["sans"] == first.sans
    assert set(items[0]) == set(exported[0])
    assert admin_web.get("/certificates/export.json?q=nothing-like-this").get_json() == []
    empty = admin_web.get("/certificates/export.csv?q=nothing-like-this").get_data(as_text=True)
    assert empty.splitlines() == [",".join(exported[0])]  # the header alone


def test_formulas_are_not_run_by_spreadsheets(admin_web, root_ca):
    add_rows(root_ca.id, 1, start=9000)
    row = db.session.scalar(select(Certificate).filter_by(common_name="host-09000"))
    row.common_name, row.subject = "=HYPERLINK(\"http://x\")", "CN=x"
    db.session.commit()
    exported = _csv(admin_web, "/certificates/export.csv")
    assert exported[0]["common_name"] == "'=HYPERLINK(\"http://x\")"


def test_exports_are_for_admins_only(web, plain_user, root_ca):
    from tests.web.conftest import USER_PASSWORD, sign_in
    assert web.get("/certificates/export.csv").status_code in (302, 401)
    sign_in(web, "bob", USER_PASSWORD)
    assert web.get("/certificates/export.csv").status_code in (403, 404)
    assert web.get("/audit/export.csv").status_code in (403, 404)


def test_the_audit_export_matches_the_search(admin_web, rows):
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).all()
    response = admin_web.get("/audit/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    exported = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(row["id"]) for row in exported] == [event.id for event in events]
    assert list(exported[0]) == ["id", "at", "actor", "action", "serial", "outcome", "detail"]
    cas = admin_web.get("/audit/export.json?action=ca.").get_json()
    assert cas and all(item["action"].startswith("ca.") for item in cas)
    assert [item["id"] for item in cas] == [
        event.id for event in events if event.action.startswith("ca.")]
    body = admin_web.get("/audit?action=ca.").get_data(as_text=True)
    assert "/audit/export.csv?action=ca." in body
