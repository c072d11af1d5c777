"""The audit log's filters: days (from, to) and user, with the search and the area; serial links."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Certificate
from tests.web.listing import add_rows

# Later than anything the fixtures write (the log is in time order), one per line:
# (at, actor, action, serial)
EVENTS = [
    (datetime(2027, 3, 1, 10, 0, tzinfo=UTC), "web:alice", "certificate.issue", "A0000000"),
    (datetime(2027, 3, 2, 0, 0, tzinfo=UTC), "cli:bob", "certificate.revoke", "0BADC0DE"),
    (datetime(2027, 3, 3, 23, 59, 59, tzinfo=UTC), "web:bob", "key.generate", None),
    (datetime(2027, 3, 4, 0, 0, tzinfo=UTC), "api:alice", "certificate.issue", "A0000001"),
    (datetime(2027, 3, 5, 8, 0, tzinfo=UTC), "serve:ocsp", "crl.publish", None),
]


@pytest.fixture
def events(admin_web, root_ca):
    """EVENTS in the log, and certificates for two of their serials (0BADC0DE has none)."""
    add_rows(root_ca.id, 2)
    ids = []
    for at, actor, action, serial in EVENTS:
        event = AuditEvent(at=at, actor=actor, action=action, serial=serial, outcome="ok")
        db.session.add(event)
        db.session.flush()
        ids.append(event.id)
    db.session.commit()
    return ids


def _shown(client, url: str) -> list[str]:
    """The actions and actors the page lists, as 'actor action'."""
    body = client.get(url).get_data(as_text=True)
    cells = re.findall(r'<td>([^<]*)</td>\s*<td class="mono">([a-z.]+)</td>', body)
    return [f"{actor} {action}" for actor, action in cells]


def test_a_range_of_days_includes_both_ends(admin_web, events):
    assert _shown(admin_web, "/audit?from=2027-03-02&to=2027-03-03") == [
        "web:bob key.generate", "cli:bob certificate.revoke"]
    assert _shown(admin_web, "/audit?from=2027-03-04") == [
        "serve:ocsp crl.publish", "api:alice certificate.issue"]
    assert _shown(admin_web, "/audit?from=2027-03-06") == []
    assert _shown(admin_web, "/audit?from=2027-03-03&to=2027-03-02") == []
    earlier = _shown(admin_web, "/audit?to=2027-03-01")
    assert earlier[0] == "web:alice certificate.issue" and "cli:bob certificate.revoke" \
        not in earlier


def test_a_user_is_found_on_the_web_the_api_and_the_cli(admin_web, events):
    assert _shown(admin_web, "/audit?user=bob&from=2027-01-01") == [
        "web:bob key.generate", "cli:bob certificate.revoke"]
    assert _shown(admin_web, "/audit?user=cli:bob") == ["cli:bob certificate.revoke"]
    assert _shown(admin_web, "/audit?user=nobody") == []


def test_the_filters_combine_with_the_search_and_the_area(admin_web, events):
    assert _shown(admin_web, "/audit?user=alice&action=certificate.&from=2027-03-02") == [
        "api:alice certificate.issue"]
    assert _shown(admin_web, "/audit?q=certificate.issue&user=alice&to=2027-03-03") == [
        "web:alice certificate.issue"]
    assert _shown(admin_web, "/audit?q=0BADC0DE&from=2027-03-01&to=2027-03-05") == [
        "cli:bob certificate.revoke"]


def test_a_day_that_does_not_parse_is_ignored(admin_web, events):
    assert _shown(admin_web, "/audit?from=yesterday&user=bob") == [
        "web:bob key.generate", "cli:bob certificate.revoke"]


def test_the_export_link_keeps_every_filter(admin_web, events):
    body = admin_web.get("/audit?user=bob&from=2027-03-01&to=2027-03-03&action=key.") \
        .get_data(as_text=True)
    link = re.search(r'href="(/audit/export\.csv[^"]*)"', body).group(1).replace("&amp;", "&")
    for part in ("user=bob", "from=2027-03-01", "to=2027-03-03", "action=key."):
        assert part in link, link
    rows = list(csv.DictReader(io.StringIO(admin_web.get(link).get_data(as_text=True))))
    assert [(row["actor"], row["action"]) for row in rows] == [("web:bob", "key.generate")]


def test_the_pager_keeps_the_filters(admin_web, root_ca):
    for number in range(60):
        db.session.add(AuditEvent(at=datetime(2027, 4, 1, 0, number, tzinfo=UTC),
                                  actor="web:carol", action="auth.login", outcome="ok"))
    db.session.commit()
    body = admin_web.get("/audit?user=carol&from=2027-04-01").get_data(as_text=True)
    older = re.search(r'rel="next" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    assert "user=carol" in older and "from=2027-04-01" in older
    assert len(_shown(admin_web, older)) == 10


def test_serials_link_to_their_certificates_where_there_is_one(admin_web, events):
    body = admin_web.get("/audit?from=2027-03-01").get_data(as_text=True)
    first = db.session.scalar(select(Certificate).where(Certificate.serial == "A0000000"))
    assert f'<a href="/certificates/{first.id}">' in body
    assert re.search(r'title="0BADC0DE">0BADC0DE</td>', body)  # no certificate: no link
