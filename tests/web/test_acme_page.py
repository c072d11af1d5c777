"""The ACME admin page: admins only, CSRF on every form, the same checks as the CLI."""

from portal.services.acme_endpoints import list_endpoints
from tests.web.conftest import USER_PASSWORD, csrf_token, sign_in


def test_admins_create_disable_and_see_endpoints(admin_web):
    page = admin_web.get("/acme-endpoints")
    assert page.status_code == 200 and b"Add an endpoint" in page.data
    data = {"name": "internal", "ca": "root", "domains": "corp.example, lab.example",
            "networks": "10.0.0.0/8", "days": "30"}
    assert admin_web.post("/acme-endpoints", data=data).status_code == 400  # no CSRF token
    assert list_endpoints() == []
    created = admin_web.post("/acme-endpoints", data={
        **data, "csrf_token": csrf_token(admin_web, "/acme-endpoints")})
    assert created.status_code == 302
    (row,) = list_endpoints()
    assert (row.domains, row.networks, row.days, row.eab_required) == (
        "corp.example,lab.example", "10.0.0.0/8", 30, False)
    shown = admin_web.get("/acme-endpoints").get_data(as_text=True)
    assert "/acme/internal/directory" in shown and "corp.example, lab.example" in shown
    bad = admin_web.post("/acme-endpoints", data={
        **data, "name": "other", "networks": "10.0.0.300/8",
        "csrf_token": csrf_token(admin_web, "/acme-endpoints")})
    assert bad.status_code == 400 and b"is not an IP network" in bad.data
    off = admin_web.post("/acme-endpoints/internal/disable",
                         data={"csrf_token": csrf_token(admin_web, "/acme-endpoints")})
    assert off.status_code == 302 and list_endpoints()[0].enabled is False
    assert admin_web.get("/acme/internal/directory").status_code == 404


def test_an_eab_key_is_shown_once(admin_web):
    made = admin_web.post("/acme-endpoints/eab", data={
        "username": "alice", "csrf_token": csrf_token(admin_web, "/acme-endpoints")})
    assert made.status_code == 200 and b"Shown once" in made.data
    assert b"Shown once" not in admin_web.get("/acme-endpoints").data
    unknown = admin_web.post("/acme-endpoints/eab", data={
        "username": "nobody", "csrf_token": csrf_token(admin_web, "/acme-endpoints")})
    assert unknown.status_code == 404 and b"no user named" in unknown.data


def test_a_plain_user_cannot_see_the_acme_page(web, plain_user):
    sign_in(web, "bob", USER_PASSWORD)
    assert web.get("/acme-endpoints").status_code == 403
