"""The README's /ping walkthrough, run as written in a fresh shell against a real `portal serve`.

Only the ports (the test's free ones for 8443 and 8080) and SERIAL (what `portal cert issue`
printed) are filled in; the environment is a new shell's (no PORTAL_* variables, no CA bundle
variables, `portal` and `python` not on PATH until the block's own `source .venv/bin/activate`).
"""

import re
import subprocess

import pytest

from tests.conftest import BIN, ROOT, require_program, run_portal
from tests.e2e.servers import portal_serve

pytestmark = pytest.mark.slow

HEADING = "Try it with the portal's own commands"
MARK = "@@@ line done"


def walkthrough() -> list[str]:
    """The README block's command lines, continuation lines joined, comments dropped."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text[text.index(HEADING):], re.S).group(1)
    joined = block.replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]


def run_lines(lines: list[str], folder, env) -> list[str]:
    """Run the lines in one bash, stopping at the first failure; each line's stdout."""
    script = "set -e\n" + "".join(f"{line}\necho '{MARK}'\n" for line in lines)
    result = subprocess.run([require_program("bash"), "-c", script], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout, result.stderr)
    outputs = result.stdout.split(MARK + "\n")
    assert outputs[-1] == "", outputs
    return outputs[:-1], result.stderr


def test_the_walkthrough_works_as_written(tmp_path):
    require_program("curl")
    require_program("openssl")
    instance = tmp_path / "instance"
    run_portal("init", env={"PORTAL_INSTANCE": str(instance)}, check=True)
    lines = walkthrough()
    assert lines[0] == "source .venv/bin/activate"
    shell_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path),
                 "LANG": "C.UTF-8"}
    with portal_serve(instance) as (https_port, http_port):
        lines = [line.replace(".venv/bin/activate", str(BIN / "activate"))
                 .replace(":8443", f":{https_port}").replace(":8080", f":{http_port}")
                 for line in lines]
        issue_at = next(i for i, line in enumerate(lines) if line.startswith("portal cert issue"))
        _outputs, stderr = run_lines(lines[:issue_at + 1], tmp_path, shell_env)
        serial = re.search(r"^issued ([0-9A-F]+) CN=alice", stderr, re.MULTILINE).group(1)
        rest = [line.replace("SERIAL", serial) for line in lines[issue_at + 1:]]
        outputs, _stderr = run_lines(lines[:2] + rest, tmp_path, shell_env)
    answers = [(line.split()[0], output.strip())
               for line, output in zip(rest, outputs[2:], strict=True) if "/ping" in line]
    assert [word for word, _ in answers] == ["curl", "curl", "curl", "python", "curl"]
    unauthenticated, pem, p12, python, revoked = (answer for _, answer in answers)
    assert unauthenticated and "pong" not in unauthenticated
    assert pem == p12 == python == "pong"
    assert "revoked" in revoked, revoked
