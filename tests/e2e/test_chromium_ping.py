"""A real Chromium presents a .p12 imported into its certificate store and reaches /ping."""

import subprocess

import pytest

from tests.conftest import require_program, run_portal
from tests.e2e.browser import chromium_with_certificate, dump_dom
from tests.e2e.servers import portal_serve
from tests.e2e.test_serve_ping import issue

pytestmark = pytest.mark.slow


def test_chromium_with_imported_p12_gets_pong_until_revoked(tmp_path):
    instance = tmp_path / "instance"
    env = {"PORTAL_INSTANCE": str(instance)}
    run_portal("init", env=env, check=True)
    cert, key, serial = issue(env, tmp_path, "browser-user", "client", "/CN=browser-user")
    p12 = tmp_path / "browser-user.p12"
    subprocess.run([require_program("openssl"), "pkcs12", "-export", "-in", str(cert),
                    "-inkey", str(key), "-out", str(p12), "-passout", "pass:import-me-1"],
                   check=True, capture_output=True)
    home = tmp_path / "home"
    with portal_serve(instance) as (https_port, _):
        origin = f"https://localhost:{https_port}"
        with chromium_with_certificate(home, p12, "import-me-1", instance / "client-ca.pem",
                                       origin, issuer_cn="root"):
            assert ">pong</pre>" in dump_dom(home, f"{origin}/ping")
            run_portal("cert", "revoke", serial, env=env, check=True)
            page = dump_dom(home, f"{origin}/ping")
            assert "has been revoked" in page and ">pong<" not in page
