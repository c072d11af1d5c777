"""The portal inside a real Apache with mod_wsgi, configured only from what
`portal webserver-config apache-wsgi` prints: /ping, the admin pages, the API, plain HTTP,
and OCSP: Apache asks the portal's responder in its own plain-HTTP virtual host, so a revoked
certificate is refused in the handshake without a reload or a new CRL file. A second Apache
with `--ocsp-url off` shows the CRL-only way: the portal's 403, then the CRL and a reload.

Apache runs with its own ServerRoot, PidFile, ErrorLog and sockets in a temporary folder, on
free loopback ports. mod_wsgi runs no daemon as root and Apache serves nothing as root, so as
root the test runs Apache in a user namespace where it is an ordinary user (mapped to root
outside: it reads and writes the instance folder as the `portal` commands of the test do).
"""

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import BIN, require_program, run_portal
from tests.e2e.servers import free_port, stop, wait_for_port
from tests.e2e.test_serve_ping import issue, make_key_and_csr
from tests.e2e.test_webservers import curl, refused

pytestmark = pytest.mark.slow
PASSWORD = "dora-password-0123"
REQUIRED = "a client certificate is required: present one issued by this portal"
CSRF_REFUSED = "This form has expired or did not come from this site."
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

APACHE_MAIN = """\
ServerRoot {folder}
DefaultRuntimeDir {folder}
PidFile {folder}/apache.pid
ErrorLog {folder}/apache-error.log
LogLevel warn
Mutex file:{folder} default
ServerName localhost
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule rewrite_module /usr/lib/apache2/modules/mod_rewrite.so
LoadModule env_module /usr/lib/apache2/modules/mod_env.so
LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so
SSLSessionCache shmcb:{folder}/ssl-cache(512000)
Listen 127.0.0.1:{https_port}
Listen 127.0.0.1:{http_port}
Include {folder}/site.conf
WSGISocketPrefix {folder}/wsgi
"""


class Apache:
    """Apache with the site `portal webserver-config apache-wsgi` printed."""

    def __init__(self, folder: Path, env: dict, ocsp: bool = True):
        self.folder, self.env = folder, env
        self.https_port, self.http_port = free_port(), free_port()
        # This Apache's own plain-HTTP virtual host, as PORTAL_PUBLIC_URL/ocsp would be.
        self.ocsp_url = f"http://127.0.0.1:{self.http_port}/ocsp" if ocsp else "off"
        self.program = require_program("apache2")
        self.crl = folder / "crl.pem"
        run_portal("crl", "export", "--out", str(self.crl), "--format", "pem", env=env,
                   check=True)
        site = run_portal(
            "webserver-config", "apache-wsgi", "--server-name", "localhost",
            "--https-listen", f"127.0.0.1:{self.https_port}",
            "--http-listen", f"127.0.0.1:{self.http_port}",
            "--crl-file", str(self.crl), "--ocsp-url", self.ocsp_url, env=env, check=True,
        )
        self.site = site.stdout.decode()
        (folder / "site.conf").write_text(self.site)
        self.conf = folder / "apache.conf"
        self.conf.write_text(APACHE_MAIN.format(folder=folder, https_port=self.https_port,
                                                http_port=self.http_port))

    def start(self) -> None:
        command = [self.program, "-f", str(self.conf), "-DFOREGROUND"]
        if os.geteuid() == 0:  # be an ordinary user inside, root outside (see the docstring)
            command = [require_program("unshare"), "--user", "--map-user=65534",
                       "--map-group=65534", *command]
        self.log = open(self.folder / "apache.out", "wb")
        self.process = subprocess.Popen(command, start_new_session=True, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.https_port, self.process)
            wait_for_port(self.http_port, self.process)
        except RuntimeError:
            self.stop()
            raise RuntimeError(self.errors()) from None

    def errors(self) -> str:
        """What Apache said, for a failing assertion."""
        text = (self.folder / "apache.out").read_text(errors="replace")
        log = self.folder / "apache-error.log"
        return text + (log.read_text(errors="replace") if log.exists() else "")

    def stop(self) -> None:
        stop(self.process)
        self.log.close()


def stranger(folder: Path) -> tuple[Path, Path]:
    """A client certificate from another CA, which even copies the portal's CA name."""
    openssl = require_program("openssl")
    ca_key, ca_cert = folder / "stranger-ca.key", folder / "stranger-ca.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(ca_key), "-out",
                    str(ca_cert), "-subj", "/CN=root", "-days", "30",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, capture_output=True)
    key, csr = make_key_and_csr(folder, "mallory", "/CN=mallory")
    cert = folder / "mallory.pem"
    extensions = folder / "mallory.ext"
    extensions.write_text("extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n")
    subprocess.run([openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey",
                    str(ca_key), "-CAcreateserial", "-out", str(cert), "-days", "10",
                    "-extfile", str(extensions)], check=True, capture_output=True)
    return cert, key


def serve(tmp_path_factory, name: str, *, ocsp: bool):
    """An initialised instance served by Apache and mod_wsgi, with certificates to present."""
    require_program("apache2")
    folder = tmp_path_factory.mktemp(name)
    os.chmod(folder, 0o755)
    instance = folder / "instance"
    env = {"PORTAL_INSTANCE": str(instance)}
    run_portal("init", env=env, check=True)
    (folder / "password").write_text(PASSWORD + "\n")
    run_portal("user", "create", "dora", "--role", "admin", "--password-file",
               str(folder / "password"), env=env, check=True)
    certs = {
        "alice": issue(env, folder, "alice", "client", "/CN=alice"),
        "bob": issue(env, folder, "bob", "client", "/CN=bob"),
        "olga": issue(env, folder, "olga", "client", "/CN=olga"),
        "web": issue(env, folder, "web", "server", "/CN=web.example.com",
                     "-addext", "subjectAltName=DNS:web.example.com"),
    }
    server = Apache(folder, env, ocsp=ocsp)
    server.start()
    try:
        yield {"server": server, "certs": certs, "env": env, "folder": folder,
               "ca": instance / "client-ca.pem", "instance": instance,
               "origin": f"https://localhost:{server.https_port}"}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site as printed by default: OCSP on, the CRL as the fallback."""
    yield from serve(tmp_path_factory, "apache-wsgi", ocsp=True)


@pytest.fixture(scope="module")
def crl_only(tmp_path_factory):
    """The site printed with `--ocsp-url off`: Apache checks the CRL file alone."""
    yield from serve(tmp_path_factory, "apache-wsgi-crl", ocsp=False)


def test_the_site_is_complete_and_names_this_virtualenv(site):
    text = site["server"].site
    python_home = Path(BIN).parent.resolve()
    assert f"python-home={python_home} " in text
    assert re.search(r"WSGIDaemonProcess portal processes=\d+ threads=\d+", text)
    assert re.search(r"WSGIScriptAlias / /\S+/portal/wsgi\.py\n", text)
    assert "LoadModule wsgi_module" in text and "WSGIPassAuthorization On" in text
    assert f"SetEnv PORTAL_INSTANCE {site['instance']}" in text
    for line in ("SSLEngine on", "SSLVerifyClient optional", "Require ssl-verify-client",
                 "SSLOptions +ExportCertData +StdEnvVars",
                 f"SSLCARevocationFile   {site['server'].crl}",
                 f"SSLCACertificateFile  {site['ca']}", "LimitRequestBody 1048576",
                 "SSLOCSPEnable leaf", f"SSLOCSPDefaultResponder {site['server'].ocsp_url}",
                 "SSLUseStapling on", "WSGIProcessGroup portal-ocsp"):
        assert line in text, line


def test_no_certificate_is_refused_by_apache(site):
    status, body, code = curl(site)
    assert (status, code) == (0, 403) and body == REQUIRED


def test_good_certificate_gets_pong_with_curl_requests_and_pkcs12(site):
    cert, key, _ = site["certs"]["alice"]
    assert curl(site, "--cert", str(cert), "--key", str(key)) == (0, "pong", 200)
    response = requests.get(f"{site['origin']}/ping", cert=(str(cert), str(key)),
                            verify=str(site["ca"]), timeout=30)
    assert (response.status_code, response.text) == (200, "pong")
    p12 = site["folder"] / "alice.p12"
    subprocess.run([require_program("openssl"), "pkcs12", "-export", "-in", str(cert),
                    "-inkey", str(key), "-out", str(p12), "-passout", "pass:pw-1234"],
                   check=True, capture_output=True)
    assert curl(site, "--cert-type", "P12", "--cert", f"{p12}:pw-1234") == (0, "pong", 200)
    status, body, code = curl(site, "--cert", str(cert), "--key", str(key),
                              "-H", "Accept: application/json")
    assert code == 200 and '"subject":"CN=alice"' in body


def test_certificates_the_portal_would_refuse_are_refused(site):
    cert, key = stranger(site["folder"])  # another CA: Apache ends the handshake
    assert refused(curl(site, "--cert", str(cert), "--key", str(key)))
    cert, key, _ = site["certs"]["web"]  # serverAuth only
    assert refused(curl(site, "--cert", str(cert), "--key", str(key)))


def test_a_forged_certificate_header_changes_nothing(site):
    alice = site["certs"]["alice"][0].read_text().replace("\n", " ")
    bob_cert, bob_key, _ = site["certs"]["bob"]
    for name in ("SSL_CLIENT_CERT", "SSL-Client-Cert", "X-SSL-Client-Cert", "ssl_client_cert"):
        status, body, code = curl(site, "--cert", str(bob_cert), "--key", str(bob_key),
                                  "-H", "Accept: application/json", "-H", f"{name}: {alice}")
        assert code == 200 and '"subject":"CN=bob"' in body, (name, body)


def test_ocsp_refuses_a_revoked_certificate_in_the_next_handshake_without_reload(site):
    cert, key, serial = site["certs"]["olga"]
    assert curl(site, "--cert", str(cert), "--key", str(key)) == (0, "pong", 200)
    crl = site["server"].crl
    crl_before = hashlib.sha256(crl.read_bytes()).hexdigest()
    run_portal("cert", "revoke", serial, "--reason", "keyCompromise", env=site["env"],
               check=True)
    # No reload and no CRL export: Apache read the CRL before the revocation, and the portal
    # itself would answer 403 "revoked"; only mod_ssl's OCSP check ends the handshake. The
    # revocation re-signs the stored answer before `cert revoke` returns, and mod_ssl keeps
    # no answers, so the very next connection is refused (whichever daemon thread answers).
    for _connection in range(3):
        status, body, code = curl(site, "--cert", str(cert), "--key", str(key))
        assert status != 0 and code == 0 and body == "", (status, body, code)
    assert site["server"].process.poll() is None
    assert hashlib.sha256(crl.read_bytes()).hexdigest() == crl_before
    alice = ("--cert", str(site["certs"]["alice"][0]), "--key", str(site["certs"]["alice"][1]))
    assert curl(site, *alice) == (0, "pong", 200)


def test_openssl_s_client_status_shows_a_stapled_good_response(site):
    openssl = require_program("openssl")
    for _attempt in range(100):  # mod_ssl fetches the staple in the handshake, then caches it
        result = subprocess.run(
            [openssl, "s_client", "-connect", f"127.0.0.1:{site['server'].https_port}",
             "-servername", "localhost", "-status", "-CAfile", str(site["ca"])],
            input="", capture_output=True, text=True, timeout=60,
        )
        if "OCSP Response Status: successful" in result.stdout:
            break
        subprocess.run(["sleep", "0.2"], check=True)
    assert "OCSP Response Status: successful" in result.stdout, result.stdout[-2000:]
    assert "Cert Status: good" in result.stdout
    assert "Verify return code: 0 (ok)" in result.stdout


def test_a_revoked_certificate_gets_403_on_the_next_request(crl_only):
    site = crl_only
    assert "SSLOCSP" not in site["server"].site and "Stapling" not in site["server"].site
    cert, key, serial = site["certs"]["bob"]
    assert curl(site, "--cert", str(cert), "--key", str(key)) == (0, "pong", 200)
    run_portal("cert", "revoke", serial, env=site["env"], check=True)
    for _connection in range(6):  # new connections: whichever daemon process answers
        status, body, code = curl(site, "--cert", str(cert), "--key", str(key))
        assert code == 403 and "revoked" in body, site["server"].errors()
    alice = ("--cert", str(site["certs"]["alice"][0]), "--key", str(site["certs"]["alice"][1]))
    assert curl(site, *alice) == (0, "pong", 200)
    # The cron line of the site: export the CRL and reload; then Apache itself refuses bob.
    server = site["server"]
    graceful = f"{server.program} -f {server.conf} -k graceful"
    exported = run_portal("crl", "export", "--out", str(server.crl), "--format", "pem",
                          "--then", graceful, env=site["env"], check=True)
    assert b"running:" in exported.stdout
    for _attempt in range(100):  # a graceful reload replaces the processes in the background
        result = curl(site, "--cert", str(cert), "--key", str(key))
        if result[2] != 403:
            break
        subprocess.run(["sleep", "0.1"])
    assert refused(result) and result[2] != 403, result
    for _attempt in range(100):  # the new daemon processes start the portal again
        if (result := curl(site, *alice)) == (0, "pong", 200):
            break
        subprocess.run(["sleep", "0.1"])
    assert result == (0, "pong", 200), server.errors()


def test_an_admin_signs_in_and_issues_on_the_pages(site):
    origin, verify = site["origin"], str(site["ca"])
    _key, csr = make_key_and_csr(site["folder"], "carol", "/CN=carol")
    with requests.Session() as browser:
        browser.headers["Referer"] = origin + "/login"
        login = browser.get(origin + "/login", verify=verify, timeout=30)
        signed_in = browser.post(origin + "/login", verify=verify, timeout=30,
                                 allow_redirects=False, data={
                                     "username": "dora", "password": PASSWORD,
                                     "csrf_token": _CSRF.search(login.text).group(1)})
        assert signed_in.status_code == 302, signed_in.text
        form = browser.get(origin + "/issue", verify=verify, timeout=30)
        assert form.status_code == 200
        data = {"csr": csr.read_text(), "profile": "client", "ca": "root", "step": "sign",
                "csrf_token": _CSRF.search(form.text).group(1)}
        without_csrf = browser.post(origin + "/issue", verify=verify, timeout=30,
                                    allow_redirects=False, data={**data, "csrf_token": "x"})
        assert without_csrf.status_code == 400 and CSRF_REFUSED in without_csrf.text
        elsewhere = browser.post(origin + "/issue", verify=verify, timeout=30,
                                 allow_redirects=False, data=data,
                                 headers={"Referer": "https://attacker.example/"})
        assert elsewhere.status_code == 400 and CSRF_REFUSED in elsewhere.text  # a good token
        issued = browser.post(origin + "/issue", verify=verify, timeout=30,
                              allow_redirects=False, data=data)
        assert issued.status_code == 302, issued.text
        assert re.fullmatch(r"/certificates/\d+", issued.headers["Location"])
        detail = browser.get(origin + issued.headers["Location"], verify=verify, timeout=30)
        assert detail.status_code == 200 and "carol" in detail.text
    listed = run_portal("cert", "list", env=site["env"], check=True).stdout.decode()
    assert "CN=carol" in listed


def test_the_api_issues_with_a_bearer_token_and_the_certificate_works(site):
    token = run_portal("token", "create", "admin", env=site["env"],
                       check=True).stdout.decode().strip().split()[-1]
    key, csr = make_key_and_csr(site["folder"], "erin", "/CN=erin")
    url = f"{site['origin']}/api/v1/certificates"
    response = requests.post(url, json={"csr": csr.read_text(), "profile": "client"},
                             headers={"Authorization": f"Bearer {token}"},
                             verify=str(site["ca"]), timeout=30)
    assert response.status_code == 201, response.text
    cert = site["folder"] / "erin.pem"
    cert.write_text(response.json()["certificate"])
    assert curl(site, "--cert", str(cert), "--key", str(key)) == (0, "pong", 200)
    anonymous = requests.post(url, json={"csr": csr.read_text(), "profile": "client"},
                              verify=str(site["ca"]), timeout=30)
    assert anonymous.status_code == 401
    oversized = requests.post(url, data=b"x" * (2 * 1024 * 1024),
                              headers={"Authorization": f"Bearer {token}",
                                       "Content-Type": "application/json"},
                              verify=str(site["ca"]), timeout=30)
    assert oversized.status_code == 413


def test_plain_http_serves_the_ca_and_crl_and_sends_the_rest_to_https(site):
    base = f"http://localhost:{site['server'].http_port}"
    crl = requests.get(base + "/crl.der", timeout=30)
    assert crl.status_code == 200 and crl.headers["Content-Type"] == "application/pkix-crl"
    assert requests.get(base + "/ca.crt", timeout=30).status_code == 200
    login = requests.get(base + "/login", timeout=30, allow_redirects=False)
    assert login.status_code == 308
    assert login.headers["Location"] == f"https://localhost:{site['server'].https_port}/login"
