"""A real nginx and a real Apache in front of `portal serve`, configured only from what
`portal webserver-config` prints, refuse and accept client certificates as /ping does, and
pass on the client's address, which the throttle, the audit log and the access log use."""

import os
import re
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.conftest import require_program, run_portal
from tests.e2e.servers import free_port, portal_serve, stop, wait_for_port
from tests.e2e.test_serve_ping import issue

pytestmark = pytest.mark.slow
PASSWORD = "carol-password-0123"

NGINX_MAIN = """\
daemon off;
user root;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
"""

APACHE_MAIN = """\
DefaultRuntimeDir {folder}
PidFile {folder}/apache.pid
ErrorLog {folder}/apache-error.log
LogLevel warn
Mutex file:{folder} default
ServerName localhost
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so
LoadModule rewrite_module /usr/lib/apache2/modules/mod_rewrite.so
Listen 127.0.0.1:{https_port}
Listen 127.0.0.1:{http_port}
Include {folder}/site.conf
"""


class FrontEnd:
    """A web server process configured from `portal webserver-config KIND`."""

    def __init__(self, kind: str, folder: Path, env: dict, upstream_port: int):
        self.kind, self.folder, self.env = kind, folder, env
        self.https_port, self.http_port = free_port(), free_port()
        self.crl = folder / "crl.pem"
        self.program = require_program("nginx" if kind == "nginx" else "apache2")
        self.upstream_port = upstream_port
        self.configure()
        main = NGINX_MAIN if kind == "nginx" else APACHE_MAIN
        self.conf = folder / f"{kind}.conf"
        self.conf.write_text(main.format(folder=folder, https_port=self.https_port,
                                         http_port=self.http_port))
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (folder / sub).mkdir(exist_ok=True)
        self.export_crl(reload=False)  # the web server is not running yet

    def configure(self) -> None:
        """Write the site from `portal webserver-config` (the proxy certificate is renewed
        there when it is revoked)."""
        site = run_portal(
            "webserver-config", self.kind, "--server-name", "localhost",
            "--upstream", f"https://127.0.0.1:{self.upstream_port}",
            "--https-listen", f"127.0.0.1:{self.https_port}",
            "--http-listen", f"127.0.0.1:{self.http_port}",
            "--crl-file", str(self.crl), *self.ocsp_options(), env=self.env, check=True,
        )
        (self.folder / "site.conf").write_bytes(site.stdout)

    def ocsp_options(self) -> tuple[str, ...]:
        """This module checks the CRL alone (test_webservers_ocsp.py checks OCSP)."""
        return ("--ocsp-url", "off")

    def reload(self) -> None:
        subprocess.run(self.reload_command, shell=True, check=True, capture_output=True)

    @property
    def reload_command(self) -> str:
        if self.kind == "nginx":
            return f"{self.program} -c {self.conf} -s reload"
        return f"{self.program} -f {self.conf} -k graceful"

    def export_crl(self, *, reload: bool = True) -> subprocess.CompletedProcess:
        then = ["--then", self.reload_command] if reload else []
        return run_portal("crl", "export", "--out", str(self.crl), "--format", "pem", *then,
                          env=self.env, check=True)

    def start(self):
        command = ([self.program, "-c", str(self.conf)] if self.kind == "nginx"
                   else [self.program, "-f", str(self.conf), "-DFOREGROUND"])
        self.process = subprocess.Popen(command, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.https_port, self.process)

    def stop(self):
        stop(self.process)


@pytest.fixture(scope="module", params=["nginx", "apache"])
def front(request, tmp_path_factory):
    """The portal served behind nginx or Apache, with certificates to present."""
    kind = request.param
    if kind == "apache":
        require_program("apache2")
    folder = tmp_path_factory.mktemp(kind)
    os.chmod(folder, 0o755)
    instance = folder / "instance"
    env = {"PORTAL_INSTANCE": str(instance), "PORTAL_TRUSTED_PROXIES": "127.0.0.1"}
    run_portal("init", env=env, check=True)
    (folder / "password").write_text(PASSWORD + "\n")
    run_portal("user", "create", "carol", "--role", "user", "--password-file",
               str(folder / "password"), env=env, check=True)
    certs = {
        "alice": issue(env, folder, "alice", "client", "/CN=alice"),
        "bob": issue(env, folder, "bob", "client", "/CN=bob"),
        "web": issue(env, folder, "web", "server", "/CN=web.example.com",
                     "-addext", "subjectAltName=DNS:web.example.com"),
    }
    with portal_serve(instance, env=env) as (app_port, _):
        server = FrontEnd(kind, folder, env, app_port)
        server.start()
        try:
            yield {"server": server, "certs": certs, "env": env, "folder": folder,
                   "app_port": app_port, "ca": instance / "client-ca.pem",
                   "instance": instance, "kind": kind}
        finally:
            server.stop()


def curl(front, *args: str, port: int | None = None, interface: str | None = None):
    """curl https://localhost:PORT/ping; returns (curl status, body, HTTP status)."""
    port = port or front["server"].https_port
    extra = ["--interface", interface] if interface else []
    result = subprocess.run(
        [require_program("curl"), "-s", "--max-time", "30", "--cacert", str(front["ca"]),
         "-w", "\n%{http_code}", *extra, *args, f"https://localhost:{port}/ping"],
        capture_output=True, text=True,
    )
    body, _, code = result.stdout.rpartition("\n")
    return result.returncode, body, int(code or 0)


def refused(result) -> bool:
    status, body, code = result
    return body != "pong" and (status != 0 or code in (400, 401, 403))


def test_no_certificate_gets_401(front):
    status, body, code = curl(front)
    assert code == 401
    assert "client certificate is required" in body


def test_good_certificate_gets_pong_with_curl_and_requests(front):
    cert, key, _ = front["certs"]["alice"]
    assert curl(front, "--cert", str(cert), "--key", str(key)) == (0, "pong", 200)
    response = requests.get(f"https://localhost:{front['server'].https_port}/ping",
                            cert=(str(cert), str(key)), verify=str(front["ca"]), timeout=30)
    assert (response.status_code, response.text) == (200, "pong")


def test_pkcs12_gets_pong(front):
    cert, key, _ = front["certs"]["alice"]
    p12 = front["folder"] / "alice.p12"
    subprocess.run([require_program("openssl"), "pkcs12", "-export", "-in", str(cert),
                    "-inkey", str(key), "-out", str(p12), "-passout", "pass:pw-1234"],
                   check=True, capture_output=True)
    assert curl(front, "--cert-type", "P12", "--cert", f"{p12}:pw-1234") == (0, "pong", 200)


def test_server_auth_only_certificate_is_refused(front):
    cert, key, _ = front["certs"]["web"]
    assert refused(curl(front, "--cert", str(cert), "--key", str(key)))


def test_forged_header_is_ignored_without_the_proxy_certificate(front):
    forged = front["certs"]["alice"][0].read_text().replace("\n", " ")
    # Straight to the app, from an untrusted address and from the trusted one itself: a
    # public certificate in a header proves nothing without the proxy's private key.
    for interface in ("127.0.0.2", "127.0.0.1"):
        status, body, code = curl(front, "-H", f"X-SSL-Client-Cert: {forged}",
                                  port=front["app_port"], interface=interface)
        assert code == 401 and "client certificate is required" in body
    # A client certificate that is not a proxy's does not make the header count either.
    bob_cert, bob_key, _ = front["certs"]["bob"]
    status, body, code = curl(front, "-H", f"X-SSL-Client-Cert: {forged}", "--cert",
                              str(bob_cert), "--key", str(bob_key), port=front["app_port"])
    assert code == 200 and body == "pong"  # bob himself, not alice
    # With the proxy's own certificate (what nginx/Apache present) from the trusted address,
    # the header is believed: the check above is real. From another address it is not.
    files = front["instance"] / "proxy-client.crt", front["instance"] / "proxy-client.key"
    proxy = ["--cert", str(files[0]), "--key", str(files[1]), "-H",
             "Accept: application/json", "-H", f"X-SSL-Client-Cert: {forged}"]
    status, body, code = curl(front, *proxy, port=front["app_port"], interface="127.0.0.1")
    assert code == 200 and '"subject":"CN=alice"' in body.replace(" ", "")
    status, body, code = curl(front, *proxy, port=front["app_port"], interface="127.0.0.2")
    assert code == 403 and "proxy's certificate" in body
    # Without the header, the proxy's certificate stands for nobody (no client certificate).
    status, body, code = curl(front, *proxy[:4], port=front["app_port"], interface="127.0.0.1")
    assert code == 401
    # Through the web server, which replaces the header with the (absent) real certificate.
    status, body, code = curl(front, "-H", f"X-SSL-Client-Cert: {forged}")
    assert code == 401


class SourceAddress(HTTPAdapter):
    """Connections from a chosen loopback address (Linux routes all of 127/8 to lo)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def sign_in(front, address: str, username: str, password: str, *, port: int | None = None,
            headers: dict | None = None) -> int:
    """Post the sign-in form from `address`, as a browser would; return the HTTP status."""
    port = port or front["server"].https_port
    base = f"https://localhost:{port}"
    # The Referer a browser sends: Flask-WTF compares it with the Host the portal sees.
    with requests.Session() as session:
        session.mount("https://", SourceAddress(address))
        session.headers.update({"Referer": f"{base}/login", **(headers or {})})
        page = session.get(f"{base}/login", verify=str(front["ca"]), timeout=30)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
        response = session.post(f"{base}/login", verify=str(front["ca"]), timeout=30,
                                allow_redirects=False, data={
                                    "username": username, "password": password,
                                    "csrf_token": token})
        return response.status_code


def audited_sign_ins(front) -> list[tuple[str, str, str]]:
    """(actor, outcome, detail) of every sign-in in the audit log, oldest first."""
    database = front["instance"] / "portal.sqlite3"
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(
            "SELECT actor, outcome, detail FROM audit_events WHERE action = 'auth.login' "
            "ORDER BY id").fetchall()


def access_log_addresses(front, path: str, expected: int) -> list[str]:
    """The client address of each access-log line of `portal serve` for `path`.

    gunicorn writes the line after the response is sent: wait for `expected` lines.
    """
    for _attempt in range(100):
        lines = (front["instance"] / "serve.log").read_text(errors="replace").splitlines()
        addresses = [line.split(" ", 1)[0] for line in lines if f" {path} HTTP/" in line]
        if len(addresses) >= expected:
            break
        subprocess.run(["sleep", "0.1"])
    return addresses


def summary(events) -> list[tuple[str, str, str]]:
    """(actor, outcome, client address) of audited sign-ins."""
    return [(actor, outcome, detail.rsplit(" ", 1)[-1]) for actor, outcome, detail in events]


def test_the_sign_in_throttle_counts_the_forwarded_client_not_the_web_server(front):
    # Six failed sign-ins with invented names, from one client: its sixth is refused...
    codes = [sign_in(front, "127.0.0.2", f"nobody-{number}", "wrong-password-x")
             for number in range(6)]
    assert codes == [200] * 5 + [429]
    # ...and nobody else is locked out: another client signs in through the same web server.
    assert sign_in(front, "127.0.0.3", "carol", PASSWORD) == 302
    events = summary(audited_sign_ins(front))
    assert events == [*[(f"web:nobody-{n}", "denied", "127.0.0.2") for n in range(5)],
                      ("web:carol", "ok", "127.0.0.3")]
    addresses = access_log_addresses(front, "/login", 14)  # a GET and a POST each
    assert addresses.count("127.0.0.2") == 12 and addresses.count("127.0.0.3") == 2
    assert "127.0.0.1" not in addresses  # the web server's own address


def test_a_forwarded_address_is_believed_only_from_a_trusted_proxy(front):
    forged = {"X-Forwarded-For": "198.51.100.7", "X-Real-IP": "198.51.100.8"}
    # Straight to the app from an untrusted peer: the headers are ignored.
    assert sign_in(front, "127.0.0.4", "carol", "wrong-password-x", port=front["app_port"],
                   headers=forged) == 200
    # Through the web server, which overwrites what the client sent with its real address.
    assert sign_in(front, "127.0.0.5", "carol", "wrong-password-x", headers=forged) == 200
    assert summary(audited_sign_ins(front))[-2:] == [("web:carol", "denied", "127.0.0.4"),
                                                     ("web:carol", "denied", "127.0.0.5")]
    addresses = access_log_addresses(front, "/login", 18)
    assert "198.51.100.7" not in addresses and "198.51.100.8" not in addresses
    assert {"127.0.0.4", "127.0.0.5"} <= set(addresses)


def test_revocation_refused_at_once_and_by_the_web_server_after_crl_export(front):
    cert, key, serial = front["certs"]["bob"]
    assert curl(front, "--cert", str(cert), "--key", str(key))[2] == 200
    run_portal("cert", "revoke", serial, env=front["env"], check=True)
    # The web server's CRL is not reloaded yet: the portal itself refuses, from its database.
    status, body, code = curl(front, "--cert", str(cert), "--key", str(key))
    assert code == 403 and "revoked" in body
    exported = front["server"].export_crl()
    assert b"running:" in exported.stdout  # the CRL changed, so the reload ran
    assert b"running:" not in front["server"].export_crl().stdout  # unchanged: no reload
    for _attempt in range(100):  # a reload replaces workers in the background
        result = curl(front, "--cert", str(cert), "--key", str(key))
        if result[2] != 403:
            break
        subprocess.run(["sleep", "0.1"])
    assert refused(result) and result[2] != 403  # now refused by nginx/Apache itself
    assert curl(front, "--cert", str(front["certs"]["alice"][0]),
                "--key", str(front["certs"]["alice"][1])) == (0, "pong", 200)


def test_revoking_the_proxy_certificate_makes_its_header_disbelieved_at_once(front):
    """Last in the module: it breaks the web server's certificate, then mends it."""
    cert, key, _ = front["certs"]["alice"]
    assert curl(front, "--cert", str(cert), "--key", str(key)) == (0, "pong", 200)
    proxy_cert = front["instance"] / "proxy-client.crt"
    result = subprocess.run([require_program("openssl"), "x509", "-noout", "-serial", "-in",
                             str(proxy_cert)], capture_output=True, text=True, check=True)
    serial = result.stdout.strip().split("=", 1)[1]
    run_portal("cert", "revoke", serial, env=front["env"], check=True)
    # The web server still presents it: the very next request is refused by the portal.
    status, body, code = curl(front, "--cert", str(cert), "--key", str(key))
    assert code == 403 and body != "pong" and "revoked" in body
    # `portal webserver-config` issues a new one in place of the revoked one; after a reload
    # the web server presents it and the forwarded certificate counts again.
    server = front["server"]
    server.configure()
    assert b"X-SSL-Client-Cert" in (server.folder / "site.conf").read_bytes()
    server.reload()
    for _attempt in range(100):  # a reload replaces workers in the background
        result = curl(front, "--cert", str(cert), "--key", str(key))
        if result[1] == "pong":
            break
        subprocess.run(["sleep", "0.1"])
    assert result == (0, "pong", 200)
