"""Over real HTTPS: a session cookie copied between two `requests` sessions dies at sign-out.

This is how the finding was made: sign in with one client, copy its cookie and CSRF token into
another, sign out, replay. `portal serve` runs two workers, so the replay may land on another
process than the sign-out: each one reads the sessions table.
"""

import json
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import run_portal
from tests.e2e.servers import portal_serve

pytestmark = pytest.mark.slow

PASSWORD = "serve-user-pass-01"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """`portal serve` with a user bob; yields (origin, CA bundle, instance env)."""
    folder = tmp_path_factory.mktemp("sessions")
    instance = folder / "instance"
    env = {"PORTAL_INSTANCE": str(instance)}
    run_portal("init", env=env, check=True)
    (folder / "password").write_text(PASSWORD + "\n")
    run_portal("user", "create", "bob", "--role", "user", "--password-file",
               str(folder / "password"), env=env, check=True)
    with portal_serve(instance, workers=2) as (https_port, _http_port):
        yield f"https://127.0.0.1:{https_port}", str(instance / "client-ca.pem"), env


def csrf_of(response) -> str:
    """The CSRF token of a page's form."""
    match = _CSRF.search(response.text)
    assert match, response.status_code
    return match.group(1)


def tokens_of_bob(env) -> list:
    """Bob's API tokens, from the real CLI."""
    listed = run_portal("token", "list", "--user", "bob", "--json", env=env, check=True)
    return json.loads(listed.stdout)


def test_a_cookie_copied_to_another_client_is_refused_after_sign_out(site):
    origin, cafile, env = site
    with requests.Session() as victim, requests.Session() as thief:
        victim.headers["Referer"] = thief.headers["Referer"] = origin + "/"
        login = victim.get(origin + "/login", verify=cafile)
        signed_in = victim.post(origin + "/login", verify=cafile, allow_redirects=False,
                                data={"username": "bob", "password": PASSWORD,
                                      "csrf_token": csrf_of(login)})
        assert signed_in.status_code == 302
        csrf = csrf_of(victim.get(origin + "/account/tokens", verify=cafile))
        thief.cookies.set("session", victim.cookies["session"])
        assert thief.get(origin + "/account", verify=cafile,
                         allow_redirects=False).status_code == 200
        out = victim.post(origin + "/logout", data={"csrf_token": csrf}, verify=cafile,
                          allow_redirects=False)
        assert out.status_code == 302
        copied = thief.cookies["session"]
        thief.headers["X-Forwarded-For"] = "127.0.0.1"  # the victim's address: changes nothing
        for _attempt in range(4):  # both workers, whichever answers
            thief.cookies.set("session", copied)
            replayed = thief.get(origin + "/account", verify=cafile, allow_redirects=False)
            assert replayed.status_code == 302
            assert replayed.headers["Location"].startswith("/login")
            thief.cookies.set("session", copied)
            created = thief.post(origin + "/account/tokens", verify=cafile,
                                 allow_redirects=False,
                                 data={"name": "stolen", "csrf_token": csrf})
            assert created.status_code == 400
    assert tokens_of_bob(env) == []


def test_trace_is_a_json_405_with_allow_on_the_api_and_an_html_one_on_the_pages(site):
    origin, cafile, _env = site
    with requests.Session() as client:
        api = client.request("TRACE", origin + "/api/v1/certificates", verify=cafile)
        assert api.status_code == 405
        assert api.json()["status"] == 405 and set(api.json()) == {"status", "message", "field"}
        assert {"GET", "POST"} <= {name.strip() for name in api.headers["Allow"].split(",")}
        page = client.request("TRACE", origin + "/login", verify=cafile)
        assert page.status_code == 405 and page.headers["Content-Type"].startswith("text/html")
        assert "POST" in page.headers["Allow"]


def test_parallel_requests_of_one_session_all_pass_when_its_idle_clock_is_written(site):
    """A browser loads a page and its assets at once; each may refresh last_seen_at."""
    origin, cafile, env = site
    database = sqlite3.connect(Path(env["PORTAL_INSTANCE"]) / "portal.sqlite3")
    with requests.Session() as browser:
        browser.headers["Referer"] = origin + "/"
        login = browser.get(origin + "/login", verify=cafile)
        browser.post(origin + "/login", verify=cafile, allow_redirects=False,
                     data={"username": "bob", "password": PASSWORD, "csrf_token": csrf_of(login)})
        cookie = browser.cookies["session"]
        statuses, refreshed = [], []
        with ThreadPoolExecutor(8) as pool:
            for _round in range(6):
                with database:  # two minutes idle: the next requests all want to write it
                    database.execute("UPDATE web_sessions SET last_seen_at = "
                                     "datetime(last_seen_at, '-2 minutes')")
                aged = last_seen(database)
                statuses += pool.map(lambda _n: fetch(origin, cafile, cookie), range(8))
                refreshed.append(last_seen(database) > aged)
    database.close()
    assert statuses == [200] * 48
    assert refreshed == [True] * 6


def last_seen(database) -> str:
    """The session's last_seen_at as SQLite keeps it (text in ISO order)."""
    return database.execute("SELECT max(last_seen_at) FROM web_sessions").fetchone()[0]


def fetch(origin: str, cafile: str, cookie: str) -> int:
    """One GET /account with a given session cookie, on a connection of its own."""
    with requests.Session() as client:
        client.cookies.set("session", cookie)
        return client.get(origin + "/account", verify=cafile, allow_redirects=False).status_code
