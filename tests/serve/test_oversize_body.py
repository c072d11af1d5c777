"""An oversize upload to a real `portal serve` gets a readable 413, with requests.

The portal answers 413 without reading a 4 MB body; closing at once made the kernel reset
the connection while the client was still sending, so requests saw a reset or an SSL EOF
instead of the answer. The server now lingers, reading and discarding, as nginx does.
"""

import pytest
import requests

from tests.conftest import run_portal
from tests.serve.serving import init_instance, serve

pytestmark = pytest.mark.slow

BODY = b'{"csr": "' + b"A" * (4 * 1024 * 1024) + b'"}'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oversize")
    env = init_instance(folder)
    token = run_portal("token", "create", "admin", env=env, check=True).stdout.decode().strip()
    with serve(env) as running:
        yield {"url": f"https://localhost:{running.port}/api/v1/certificates",
               "ca": str(folder / "instance" / "client-ca.pem"),
               "headers": {"Authorization": f"Bearer {token}",
                           "Content-Type": "application/json"},
               "running": running}


def _chunks():
    for start in range(0, len(BODY), 64 * 1024):
        yield BODY[start:start + 64 * 1024]


@pytest.mark.parametrize("upload", ["plain", "chunked"])
def test_a_4_mb_post_gets_a_readable_413(server, upload):
    with requests.Session() as session:
        for _ in range(6):
            response = session.post(server["url"], data=BODY if upload == "plain" else _chunks(),
                                    headers=server["headers"], verify=server["ca"], timeout=60)
            assert response.status_code == 413, response.text
            assert "larger than" in response.json()["message"]
            # The body was not read: the server closes, and says so, so that the client
            # does not send its next request on this connection.
            assert response.headers["Connection"] == "close"
    assert "Traceback" not in server["running"].output()
