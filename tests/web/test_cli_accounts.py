"""The CLI for people who run the portal: accounts, headers, --version and --help."""

import json
import re
from importlib.metadata import version

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, WebSession
from portal.services import enrollment, tokens
from tests.conftest import run_portal
from tests.web.conftest import ADMIN_PASSWORD, USER_PASSWORD, sign_in

NEW_PASSWORD = "a-brand-new-password-42"


def _invoke(runner, *args, input=None):
    return runner.invoke(args=list(args), input=input)


def test_version_is_the_portals(instance):
    result = run_portal("--version", check=True)
    first, second = result.stdout.decode().splitlines()
    assert first == f"portal {version('portal')}"
    assert second.startswith("Python 3.") and f"cryptography {version('cryptography')}" in second


def test_help_lists_serve_and_hides_flasks_development_commands(instance):
    helped = run_portal("--help", check=True).stdout.decode()
    listed = re.findall(r"^  (\S+)\s", helped.split("Commands:")[1], re.MULTILINE)
    assert "serve" in listed and "routes" in listed and "user" in listed
    assert "run" not in listed and "shell" not in listed
    assert run_portal("shell", "--help", check=True).returncode == 0  # still there, unlisted


def test_lists_print_a_header_line(runner, admin, plain_user, root_ca):
    tokens.create_token("bob", actor="test")
    enrollment.create_link(common_name="Kim", email=None, profile_name="client",
                           key_type="ec-p256", hours=2, days=None, actor="test")
    headers = {
        ("cert", "list"): "SERIAL\tSTATUS\tPROFILE\tEXPIRES\tSUBJECT",
        ("token", "list"): "ID\tUSER\tPREFIX\tSTATE\tNAME",
        ("enroll", "list"): "ID\tSTATE\tEXPIRES\tPROFILE\tCN\tEMAIL",
        ("user", "list"): "USERNAME\tROLE\tSTATUS\tEMAIL\tCREATED",
    }
    for command, header in headers.items():
        lines = _invoke(runner, *command).stdout.splitlines()
        assert lines[0] == header, command
        assert _invoke(runner, *command, "--no-header").stdout.splitlines() == lines[1:], command
    users = _invoke(runner, "user", "list").stdout.splitlines()[1:]
    assert [line.split("\t")[:4] for line in users] == [
        ["alice", "admin", "active", "alice@example.com"], ["bob", "user", "active", ""]]
    as_json = json.loads(_invoke(runner, "user", "list", "--json").stdout)
    assert [(item["username"], item["status"]) for item in as_json] == [
        ("alice", "active"), ("bob", "active")]


def test_disable_and_enable_a_user(runner, web, admin, plain_user, root_ca):
    assert sign_in(web, "bob", USER_PASSWORD).status_code == 302
    assert web.get("/account").status_code == 200
    disabled = _invoke(runner, "user", "disable", "bob")
    assert disabled.exit_code == 0, disabled.output
    assert disabled.stdout.startswith("disabled bob")
    assert web.get("/account").status_code == 302  # signed out at once
    assert "bob\tuser\tdisabled" in _invoke(runner, "user", "list").stdout
    assert sign_in(web, "bob", USER_PASSWORD).status_code != 302
    assert _invoke(runner, "user", "enable", "bob").exit_code == 0
    assert sign_in(web, "bob", USER_PASSWORD).status_code == 302
    last = _invoke(runner, "user", "disable", "alice")  # the last active admin
    assert last.exit_code == 1 and "last active admin" in last.stderr
    assert _invoke(runner, "user", "disable", "nobody").stderr.strip() == (
        "Error: no user named 'nobody'")


def test_reset_password_ends_the_users_sessions_and_is_audited(runner, web, admin, root_ca):
    assert sign_in(web, "alice", ADMIN_PASSWORD).status_code == 302
    assert web.get("/certificates").status_code == 200
    reset = _invoke(runner, "user", "reset-password", "alice", "--password-stdin",
                    input=NEW_PASSWORD + "\n")
    assert reset.exit_code == 0, reset.output
    assert reset.stdout == ""  # the password is never printed back
    assert "signed out everywhere" in reset.stderr
    signed_out = web.get("/certificates")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    assert db.session.scalars(select(WebSession).filter_by(user_id=admin.id)).all() == []
    event = db.session.scalars(select(AuditEvent).filter_by(action="user.password_reset")).one()
    assert event.actor.startswith("cli:") and event.detail.startswith("alice; 1 session(s)")
    assert sign_in(web, "alice", ADMIN_PASSWORD).status_code != 302
    assert sign_in(web, "alice", NEW_PASSWORD).status_code == 302


def test_reset_password_prompts_twice_or_generates(runner, admin, root_ca):
    prompted = _invoke(runner, "user", "reset-password", "alice",
                       input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    generated = _invoke(runner, "user", "reset-password", "alice", "--generate")
    assert generated.exit_code == 0
    password = re.fullmatch(r"password \(shown once\): (\S+)\n", generated.stdout).group(1)
    web_ok = db.session.scalars(select(AuditEvent).filter_by(
        action="user.password_reset")).all()
    assert len(web_ok) == 2 and len(password) >= 20
    short = _invoke(runner, "user", "reset-password", "alice", "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.stderr
    assert len(db.session.scalars(select(AuditEvent).filter_by(
        action="user.password_reset")).all()) == 2
