"""`make run` installs what serving needs, `make test` the test extra too (issue 14, defect 11)."""

import subprocess
import sys
import tomllib

from tests.conftest import ROOT, require_program

# Every module of the test extra, as imported: none of them may be needed to serve.
TEST_ONLY = ["pytest", "xdist", "hypothesis", "requests", "ruff", "playwright", "jsonschema",
             "openapi_spec_validator", "py_spy", "aiosmtpd"]


def _pip_installs(target: str, tmp_path) -> list[str]:
    result = subprocess.run([require_program("make"), "-n", target, f"VENV={tmp_path}/venv"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return [line for line in result.stdout.splitlines() if "pip install" in line and "-e" in line]


def test_make_run_installs_no_test_extra_and_make_test_does(tmp_path):
    assert _pip_installs("run", tmp_path) == [
        f"{tmp_path}/venv/bin/pip install --quiet -e '.[postgres]'"]
    assert _pip_installs("test", tmp_path) == [
        f"{tmp_path}/venv/bin/pip install --quiet -e '.[test,postgres]'"]


def test_pkilint_stays_a_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dependency.startswith("pkilint") for dependency in project["dependencies"])
    assert not any(name.startswith("pkilint") for name in project["optional-dependencies"]["test"])


def test_the_portal_imports_and_builds_its_app_without_the_test_extra(instance):
    script = f"""
import importlib, pkgutil, sys
BLOCKED = {TEST_ONLY!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is in the test extra")
sys.meta_path.insert(0, Block())
import portal
for module in pkgutil.walk_packages(portal.__path__, "portal."):
    importlib.import_module(module.name)
from portal import create_app
app = create_app()
print(len(list(app.url_map.iter_rules())), "routes")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(" routes\n")
