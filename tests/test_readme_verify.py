"""The README's `openssl verify` recipe works as written (issue 12, finding 12).

The shell block under "Checking a certificate against the CRLs with openssl" is run line by
line: each `curl` line is answered by the app at the same path, `cat` and `openssl` run for
real.
"""

import re
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from portal.ca.pem import to_pem
from portal.services import certificates
from portal.services.authorities import create_ca
from tests.conftest import ROOT, require_program
from tests.publishing import issue

HEADING = "**Checking a certificate against the CRLs with openssl.**"


def readme_recipe() -> list[str]:
    """The lines of the first sh block after the heading, without comments."""
    text = (ROOT / "README.md").read_text()
    assert HEADING in text, "the README documents how to check a certificate with openssl"
    block = re.search(r"```sh\n(.*?)```", text[text.index(HEADING):], re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def run_recipe(lines: list[str], client, folder: Path) -> subprocess.CompletedProcess:
    """Run the recipe in `folder`; the result of its last line (openssl verify)."""
    result = None
    for line in lines:
        words = shlex.split(line)
        if words[0] == "curl":
            out = words[words.index("-fso") + 1]
            response = client.get(urlsplit(words[-1]).path)
            assert response.status_code == 200, line
            (folder / out).write_bytes(response.data)
        elif words[0] == "cat":
            target = words[words.index(">") + 1]
            (folder / target).write_bytes(b"".join((folder / name).read_bytes()
                                                   for name in words[1:words.index(">")]))
        else:
            assert words[0] == "openssl", line
            result = subprocess.run([require_program("openssl"), *words[1:]], cwd=folder,
                                    capture_output=True, text=True, timeout=60)
    assert result is not None, "the recipe ends with openssl verify"
    return result


@pytest.fixture
def issuing(root_ca):
    return create_ca("issuing", key_type="ec-p256", parent="root", actor="test")


def test_the_readme_recipe_accepts_a_good_certificate_and_rejects_a_revoked_one(
        client, runner, issuing, tmp_path):
    lines = readme_recipe()
    assert any("-crl_check_all" in line for line in lines)
    assert not any("-crl_download" in line for line in lines)
    alice_row, alice, _ = issue("client", ca="issuing", name="alice")
    (tmp_path / "alice.pem").write_bytes(to_pem(alice))
    good = run_recipe(lines, client, tmp_path)
    assert good.returncode == 0 and good.stdout.strip() == "alice.pem: OK", good.stderr

    certificates.revoke_certificate(alice_row.serial, reason="keyCompromise", actor="test")
    revoked = run_recipe(lines, client, tmp_path)
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr

    # The CLI's export, as the README says, holds the same CRLs.
    exported = runner.invoke(args=["crl", "export", "--ca", "issuing", "--out",
                                   str(tmp_path / "crls.pem")])
    assert exported.exit_code == 0, exported.output
    again = subprocess.run([require_program("openssl"), *shlex.split(lines[-1])[1:]],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "certificate revoked" in again.stdout + again.stderr

