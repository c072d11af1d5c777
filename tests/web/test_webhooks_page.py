"""The webhooks page: admins only, CSRF on every form, the same checks as the CLI."""

from portal.services import webhooks
from tests.web.conftest import USER_PASSWORD, csrf_token, sign_in


def test_the_admin_page_needs_csrf_and_an_admin(admin_web):
    page = admin_web.get("/webhooks")
    assert page.status_code == 200 and b"Add a webhook" in page.data
    data = {"url": "https://hooks.example.org/x", "events": ["certificate.issued"]}
    assert admin_web.post("/webhooks", data=data).status_code == 400
    assert webhooks.list_webhooks() == []
    created = admin_web.post("/webhooks", data={**data, "csrf_token": csrf_token(
        admin_web, "/webhooks")})
    assert created.status_code == 200 and b"whsec_" in created.data
    (row,) = webhooks.list_webhooks()
    assert row.events == "certificate.issued"
    bad = admin_web.post("/webhooks", data={"url": "file:///x", "events": ["crl.published"],
                                            "csrf_token": csrf_token(admin_web, "/webhooks")})
    assert bad.status_code == 400 and b"http:// or https://" in bad.data
    removed = admin_web.post(f"/webhooks/{row.id}/remove",
                             data={"csrf_token": csrf_token(admin_web, "/webhooks")})
    assert removed.status_code == 302 and webhooks.list_webhooks() == []


def test_a_plain_user_cannot_see_webhooks(web, plain_user):
    sign_in(web, "bob", USER_PASSWORD)
    assert web.get("/webhooks").status_code == 403
    assert webhooks.EVENTS == ("certificate.issued", "certificate.revoked",
                               "certificate.expiring", "crl.published", "ca.key_unusable")


def test_the_dashboard_shows_a_mail_failure(admin_web, app, runner):
    from tests.notifying import free_port, issue

    app.config.update(PORTAL_SMTP_URL=f"smtp://127.0.0.1:{free_port()}",
                      PORTAL_SMTP_STARTTLS=False)
    issue("web.example.org", owner="alice", days_left=10)  # alice is the admin, with an address
    assert runner.invoke(args=["notify", "run"]).exit_code == 1
    page = admin_web.get("/").get_data(as_text=True)
    assert "Expiry warnings by e-mail: cannot connect to the SMTP server" in page
    audit_page = admin_web.get("/audit").get_data(as_text=True)
    assert "notify.mail" in audit_page


def test_people_set_their_own_address(web, plain_user):
    sign_in(web, "bob", USER_PASSWORD)
    assert b"/account/email" in web.get("/account").data
    assert web.post("/account/email", data={"email": "bob@example.org"}).status_code == 400
    assert users_email("bob") is None
    bad = web.post("/account/email", data={"email": "not an address",
                                           "csrf_token": csrf_token(web, "/account/email")})
    assert bad.status_code == 400 and b"not a valid e-mail address" in bad.data
    done = web.post("/account/email", data={"email": "bob@example.org",
                                            "csrf_token": csrf_token(web, "/account/email")})
    assert done.status_code == 302 and users_email("bob") == "bob@example.org"


def users_email(name):
    from portal.services.users import user_by_name

    return user_by_name(name).email
