"""The certificate list: search, filters, sort and keyset pages, served from indexes."""

import re

import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.services.authorities import create_ca
from portal.services.search import CertificateQuery, search_certificates
from tests.web.listing import QueryPlans, add_rows


@pytest.fixture
def rows(admin_web, root_ca, admin):
    """3,000 server certificates under root, 20 client ones under another CA owned by alice."""
    other = create_ca("team", key_type="ec-p256", actor="test")
    add_rows(root_ca.id, 3000)
    add_rows(other.id, 20, start=5000, owner_id=admin.id, profile="client")
    # Statistics, as a long-running database has them: without ANALYZE SQLite plans a search's
    # OR of ranges as a multi-index OR, with them as a scan of the whole table.
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return other


def _names(client, url) -> list[str]:
    body = client.get(url).get_data(as_text=True)
    return re.findall(r'class="row-link" href="/certificates/\d+">([^<]+)</a>', body)


def test_search_by_common_name_san_serial_and_owner(admin_web, rows):
    assert _names(admin_web, "/certificates?q=host-0012") == [
        f"host-{n:05}" for n in range(129, 119, -1)]
    assert _names(admin_web, "/certificates?q=HOST-00077") == ["host-00077"]  # lower-cased too
    assert _names(admin_web, "/certificates?q=alt-02999.example") == ["host-02999"]
    serial = f"{0xA0000000 + 42:X}"
    colons = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)).lower()
    for typed in (serial, colons, f"0x{serial.lower()}"):
        assert _names(admin_web, f"/certificates?q={typed}") == ["host-00042"], typed
    assert len(_names(admin_web, "/certificates?q=alice")) == 20
    assert _names(admin_web, "/certificates?q=nothing-like-this") == []


def test_filters_and_sorting(admin_web, rows):
    assert len(_names(admin_web, "/certificates?profile=client")) == 20
    assert len(_names(admin_web, f"/certificates?ca={rows.id}")) == 20
    assert _names(admin_web, "/certificates?status=revoked") == []
    soonest = _names(admin_web, "/certificates?sort=expires")
    assert soonest[:3] == ["host-00000", "host-00001", "host-00002"]
    latest = _names(admin_web, "/certificates?sort=-expires")
    assert latest[0] == "host-05019"
    # rows expire one per hour: within 2 days means hours 1..47
    expiring = search_certificates(CertificateQuery(expiring_days=2, sort="expires"))
    assert expiring.count == 48 and expiring.rows[0].common_name == "host-00000"


def test_keyset_pages_cover_everything_once_both_ways(app, rows):
    for sort in ("newest", "expires", "-expires", "oldest"):
        seen, query, pages = [], CertificateQuery(profile="client", sort=sort), []
        page = search_certificates(query, page_size=7)
        while True:
            pages.append(page)
            seen += [row.id for row in page.rows]
            if not page.next_cursor:
                break
            page = search_certificates(
                CertificateQuery(profile="client", sort=sort, after=page.next_cursor), page_size=7)
        assert len(seen) == len(set(seen)) == 20, sort
        assert [len(p.rows) for p in pages] == [7, 7, 6]
        assert pages[0].prev_cursor is None
        back = search_certificates(
            CertificateQuery(profile="client", sort=sort, before=pages[2].prev_cursor),
            page_size=7)
        assert [row.id for row in back.rows] == [row.id for row in pages[1].rows], sort


def test_the_page_links_walk_the_list(admin_web, rows):
    body = admin_web.get("/certificates?sort=expires").get_data(as_text=True)
    next_link = re.search(r'rel="next" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    second = admin_web.get(next_link).get_data(as_text=True)
    names = re.findall(r'class="row-link" href="/certificates/\d+">([^<]+)</a>', second)
    assert names[0] == "host-00050"
    assert 'rel="prev"' in second


def test_counts_are_bounded(admin_web, rows):
    body = admin_web.get("/certificates").get_data(as_text=True)
    assert "More than 1,000 certificates" in body
    assert "20 certificates" in admin_web.get("/certificates?profile=client").get_data(
        as_text=True)


def test_odd_parameters_are_ignored(admin_web, rows):
    unfiltered = _names(admin_web, "/certificates")
    assert len(unfiltered) == 50 and unfiltered[0] == "host-05019"
    for query in ("status=bogus", "sort=x;drop", "expiring=-3", "ca=abc", "after=zz", "before=1.x"):
        response = admin_web.get(f"/certificates?{query}")
        assert response.status_code == 200, query
        assert _names(admin_web, f"/certificates?{query}") == unfiltered, query


@pytest.mark.parametrize("url", [
    "/certificates",
    "/certificates?sort=expires",
    "/certificates?sort=-expires&after=20300101T000000.5",
    "/certificates?status=revoked",
    "/certificates?status=issued&sort=expires",
    "/certificates?profile=client&sort=expires",
    "/certificates?ca=2&sort=-expires",
    "/certificates?ca=2",
    "/certificates?expiring=30&sort=expires",
])
def test_lists_read_pages_in_index_order(admin_web, rows, url):
    with QueryPlans() as recorded:
        assert admin_web.get(url).status_code == 200
    assert recorded.plans
    for statement, plan in recorded.plans:
        text = " | ".join(plan)
        assert "TEMP B-TREE" not in text, (url, text)
        for step in plan:
            if step.startswith("SCAN certificates") and "INDEX" not in step:
                # only the unfiltered newest-first list walks the table itself, in id order
                assert " WHERE " not in statement, (url, text)


@pytest.mark.parametrize("q", ["host-0012", "alt-00012", "A0:00:00:2A", "alice"])
def test_searches_use_an_index_for_every_term(admin_web, rows, q):
    with QueryPlans() as recorded:
        assert admin_web.get(f"/certificates?q={q}").status_code == 200
    for _statement, plan in recorded.plans:
        assert not any(step.startswith("SCAN certificates") for step in plan), plan
        # "USING INDEX" or, better, "USING COVERING INDEX"
        assert any("INDEX ix_certificates_common_name " in step for step in plan), plan
        assert any("INDEX ix_certificate_names_value " in step for step in plan), plan


def test_serial_prefixes_in_any_notation(admin_web, rows):
    serial = f"{0xA0000000 + 42:X}"  # A000002A; A00000 is the prefix of every row
    assert _names(admin_web, f"/certificates?q={serial[:7]}") == [
        f"host-{n:05}" for n in range(47, 31, -1) if f"{0xA0000000 + n:X}".startswith(serial[:7])]
    for typed in ("a000002", "A0:00:00:2", "a0:00:00:2", "0xA000002", "A0 00 00 2"):
        assert "host-00042" in _names(admin_web, f"/certificates?q={typed}"), typed
    # the list's own short form, pasted back: first digits, an ellipsis, last digits
    assert _names(admin_web, f"/certificates?q={serial[:6]}…{serial[-4:]}") == ["host-00042"]
    assert _names(admin_web, "/certificates?q=A0000…FFFF") == []


def test_type_value_forms_as_the_list_shows_them(admin_web, rows):
    assert _names(admin_web, "/certificates?q=DNS:alt-02999") == ["host-02999"]
    assert _names(admin_web, "/certificates?q=dns:ALT-02999.example.com") == ["host-02999"]
    assert _names(admin_web, "/certificates?q=IP:alt-02999") == []  # the kind counts
    assert _names(admin_web, "/certificates?q=email:alt-02999") == []


def test_ip_and_email_forms(admin_web, root_ca):
    from portal.models import CertificateName
    add_rows(root_ca.id, 2, start=7000)
    first, second = (db.session.scalars(
        db.select(CertificateName).order_by(CertificateName.id.desc()).limit(2)).all())
    first.kind, first.value = "IP", "10.1.2.3"
    second.kind, second.value = "email", "grafana-ops@example.org"
    db.session.commit()
    assert _names(admin_web, "/certificates?q=IP:10.1.2") == ["host-07001"]
    assert _names(admin_web, "/certificates?q=email:Grafana-ops@") == ["host-07000"]
    assert _names(admin_web, "/certificates?q=DNS:10.1.2") == []


@pytest.mark.parametrize("q", ["A00000", "a0:00:00:2", "DNS:alt-0001", "A00000…002A"])
def test_prefix_searches_use_an_index_for_every_term(admin_web, rows, q):
    with QueryPlans() as recorded:
        assert admin_web.get(f"/certificates?q={q}").status_code == 200
    assert recorded.plans
    for _statement, plan in recorded.plans:
        assert not any(step.startswith("SCAN certificates") for step in plan), plan
        assert not any(step.startswith("SCAN certificate_names") for step in plan), plan
        assert any("INDEX ix_certificates_common_name " in step for step in plan), plan
    if not q.startswith("DNS:"):
        assert any("INDEX ix_certificates_serial " in step
                   for _s, plan in recorded.plans for step in plan), recorded.plans


def test_the_api_search_takes_the_same_forms(client, rows):
    from portal.services import tokens
    _row, token = tokens.create_token("alice", actor="test")
    headers = {"Authorization": f"Bearer {token}"}
    for q in ("DNS:alt-02999", "A0000BB7", "a0:00:0b:b7"):
        items = client.get(f"/api/v1/certificates?q={q}", headers=headers).json["items"]
        assert [item["common_name"] for item in items] == ["host-02999"], q
    items = client.get("/api/v1/certificates?q=a0000bb", headers=headers).json["items"]
    expected = [f"host-{n:05}" for n in range(2999, 2991, -1)]
    assert [item["common_name"] for item in items] == expected
