"""A real nginx and a real Apache in front of `portal serve`, configured only from what
`portal webserver-config` prints, refuse and accept client certificates as /ping does."""

import os
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import require_program, run_portal
from tests.e2e.servers import free_port, portal_serve, stop, wait_for_port
from tests.e2e.test_serve_ping import issue

pytestmark = pytest.mark.slow

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
        listen = {"nginx": ("127.0.0.1:{}", "127.0.0.1:{}"),
                  "apache": ("127.0.0.1:{}", "127.0.0.1:{}")}[kind]
        site = run_portal(
            "webserver-config", kind, "--server-name", "localhost",
            "--upstream", f"https://127.0.0.1:{upstream_port}",
            "--https-listen", listen[0].format(self.https_port),
            "--http-listen", listen[1].format(self.http_port),
            "--crl-file", str(self.crl), env=env, check=True,
        )
        (folder / "site.conf").write_bytes(site.stdout)
        main = NGINX_MAIN if kind == "nginx" else APACHE_MAIN
        self.conf = folder / f"{kind}.conf"
        self.conf.write_text(main.format(folder=folder, https_port=self.https_port,
                                         http_port=self.http_port))
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (folder / sub).mkdir(exist_ok=True)
        self.export_crl(reload=False)  # the web server is not running yet

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
                   "app_port": app_port, "ca": instance / "client-ca.pem"}
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


def test_forged_header_is_ignored_from_an_untrusted_address(front):
    cert = front["certs"]["alice"][0].read_text()
    forged = cert.replace("\n", " ")
    # Straight to the app from 127.0.0.2, which is not a trusted proxy.
    status, body, code = curl(front, "-H", f"X-SSL-Client-Cert: {forged}",
                              port=front["app_port"], interface="127.0.0.2")
    assert code == 401 and "client certificate is required" in body
    # The same header from the trusted proxy address is believed: the check above is real.
    assert curl(front, "-H", f"X-SSL-Client-Cert: {forged}", port=front["app_port"],
                interface="127.0.0.1")[1:] == ("pong", 200)
    # Through the web server, which replaces the header with the (absent) real certificate.
    status, body, code = curl(front, "-H", f"X-SSL-Client-Cert: {forged}")
    assert code == 401


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
