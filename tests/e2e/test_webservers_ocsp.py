"""A real nginx and a real Apache, configured only from `portal webserver-config`, ask the
portal's OCSP responder: a revoked client certificate is refused within the OCSP cache time
without a reload and without a new CRL file, and the server certificate's status is stapled."""

import hashlib
import os
import subprocess

import pytest

from tests.conftest import require_program, run_portal
from tests.e2e.servers import portal_serve
from tests.e2e.test_serve_ping import issue
from tests.e2e.test_webservers import FrontEnd, curl, refused

pytestmark = pytest.mark.slow
RESPONSE_SECONDS = 10  # nginx keeps a status until nextUpdate: short here, an hour by default


class OCSPFrontEnd(FrontEnd):
    """The web server with the OCSP part of `portal webserver-config` pointed at the portal."""

    def __init__(self, *args, ocsp_url: str, **kwargs):
        self.ocsp_url = ocsp_url
        super().__init__(*args, **kwargs)

    def ocsp_options(self) -> tuple[str, ...]:
        """Ask the portal's plain-HTTP listener, as PORTAL_PUBLIC_URL/ocsp would."""
        return ("--ocsp-url", self.ocsp_url)


@pytest.fixture(scope="module", params=["nginx", "apache"])
def front(request, tmp_path_factory):
    """The portal behind nginx or Apache with OCSP, and client certificates to present."""
    kind = request.param
    folder = tmp_path_factory.mktemp(f"{kind}-ocsp")
    os.chmod(folder, 0o755)
    instance = folder / "instance"
    env = {"PORTAL_INSTANCE": str(instance), "PORTAL_TRUSTED_PROXIES": "127.0.0.1",
           "PORTAL_OCSP_RESPONSE_SECONDS": str(RESPONSE_SECONDS)}
    run_portal("init", env=env, check=True)
    certs = {name: issue(env, folder, name, "client", f"/CN={name}") for name in ("alice", "bob")}
    with portal_serve(instance, env=env) as (app_port, http_port):
        server = OCSPFrontEnd(kind, folder, env, app_port,
                              ocsp_url=f"http://127.0.0.1:{http_port}/ocsp")
        server.start()
        try:
            yield {"server": server, "certs": certs, "env": env, "folder": folder,
                   "ca": instance / "client-ca.pem", "kind": kind}
        finally:
            server.stop()


def test_the_generated_configuration_turns_ocsp_and_stapling_on(front):
    site = (front["folder"] / "site.conf").read_text()
    url = front["server"].ocsp_url
    if front["kind"] == "nginx":
        for line in ("ssl_ocsp           on;", f"ssl_ocsp_responder {url};",
                     "ssl_ocsp_cache     shared:portal_ocsp:1m;", "ssl_stapling            on;"):
            assert line in site
    else:
        for line in ("SSLOCSPEnable leaf", f"SSLOCSPDefaultResponder {url}",
                     "SSLUseStapling on", 'SSLStaplingCache "shmcb:portal-ocsp-stapling'):
            assert line in site
    assert "ssl_crl" in site or "SSLCARevocationFile" in site  # the CRL stays as a fallback


def test_a_revoked_client_certificate_is_refused_without_reload_or_new_crl(front):
    cert, key, serial = front["certs"]["bob"]
    assert curl(front, "--cert", str(cert), "--key", str(key)) == (0, "pong", 200)
    crl = front["server"].crl
    crl_before = hashlib.sha256(crl.read_bytes()).hexdigest()
    run_portal("cert", "revoke", serial, "--reason", "keyCompromise", env=front["env"],
               check=True)
    # No reload and no CRL export from here on: only the web server's OCSP check can refuse
    # it in the TLS handshake (the portal itself would answer 403 "revoked").
    for _attempt in range(300):
        result = curl(front, "--cert", str(cert), "--key", str(key))
        if refused(result) and result[2] != 403:
            break
        subprocess.run(["sleep", "0.2"], check=True)
    assert refused(result) and result[2] != 403, result
    assert front["server"].process.poll() is None
    assert hashlib.sha256(crl.read_bytes()).hexdigest() == crl_before
    alice_cert, alice_key, _ = front["certs"]["alice"]
    assert curl(front, "--cert", str(alice_cert), "--key", str(alice_key)) == (0, "pong", 200)


def test_openssl_s_client_status_shows_a_stapled_good_response(front):
    openssl = require_program("openssl")
    port = front["server"].https_port
    for _attempt in range(100):  # the web server fetches the staple after its first handshake
        result = subprocess.run(
            [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
             "-status", "-CAfile", str(front["ca"])],
            input="", capture_output=True, text=True, timeout=60,
        )
        if "OCSP Response Status: successful" in result.stdout:
            break
        subprocess.run(["sleep", "0.2"], check=True)
    assert "OCSP Response Status: successful" in result.stdout, result.stdout[-2000:]
    assert "Cert Status: good" in result.stdout
