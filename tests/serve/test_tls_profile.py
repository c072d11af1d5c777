"""`portal serve` meets Mozilla's "intermediate" TLS profile, checked with `openssl s_client`."""

import subprocess

import pytest

from tests.conftest import require_program
from tests.serve.serving import init_instance, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    env = init_instance(tmp_path_factory.mktemp("tls"))
    with serve(env, workers=1) as running:
        yield running.port


def handshake(port: int, *options: str) -> str | None:
    """The s_client session summary if the handshake succeeds, None if it is refused."""
    result = subprocess.run(
        [require_program("openssl"), "s_client", "-connect", f"127.0.0.1:{port}", "-brief",
         *options],
        input=b"", capture_output=True, timeout=60,
    )
    output = (result.stdout + result.stderr).decode(errors="replace")
    return output if result.returncode == 0 and "CONNECTION ESTABLISHED" in output else None


@pytest.mark.parametrize("cipher", [
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
])
def test_the_intermediate_tls_1_2_ciphers_are_accepted(port, cipher):
    summary = handshake(port, "-tls1_2", "-cipher", cipher)
    assert summary is not None and f"Ciphersuite: {cipher}" in summary


@pytest.mark.parametrize("cipher", [
    "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384",  # the CBC suites it offered
    "ECDHE-ECDSA-AES128-SHA", "AES128-GCM-SHA256",  # CBC with SHA-1; no forward secrecy
])
def test_cbc_and_static_key_ciphers_are_refused(port, cipher):
    assert handshake(port, "-tls1_2", "-cipher", cipher) is None


@pytest.mark.parametrize("suite", [
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
])
def test_tls_1_3_suites_are_accepted(port, suite):
    summary = handshake(port, "-tls1_3", "-ciphersuites", suite)
    assert summary is not None and f"Ciphersuite: {suite}" in summary


NAMES = {"X25519": "X25519", "P-256": "prime256v1", "P-384": "secp384r1"}


@pytest.mark.parametrize("group", ["X25519", "P-256", "P-384"])
def test_the_intermediate_groups_are_accepted(port, group):
    # TLS 1.3: the group alone. TLS 1.2: the client must also name the certificate's curve
    # (P-256), which its supported_groups list governs too; the server takes the client's first.
    tls12_groups = ":".join(dict.fromkeys([group, "P-256"]))
    for summary in (handshake(port, "-tls1_3", "-groups", group),
                    handshake(port, "-tls1_2", "-groups", tls12_groups)):
        assert summary is not None and "Server Temp Key: " in summary
        assert NAMES[group] in summary.split("Server Temp Key: ")[1].splitlines()[0]


@pytest.mark.parametrize("group", ["X448", "P-521", "ffdhe2048"])
def test_other_groups_are_refused(port, group):
    assert handshake(port, "-tls1_3", "-groups", group) is None
    summary = handshake(port, "-tls1_2", "-groups", f"{group}:P-256")
    assert summary is not None  # ... and P-256 used instead of the client's first choice
    assert "prime256v1" in summary.split("Server Temp Key: ")[1].splitlines()[0]


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_tls_1_0_and_1_1_are_refused(port, version):
    assert handshake(port, version, "-cipher", "DEFAULT@SECLEVEL=0") is None
