"""portal/ca is pure PKI: no module imports Flask or SQLAlchemy, in its source or at run time."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import portal.ca

CA_DIR = Path(portal.ca.__file__).resolve().parent
MODULES = sorted(path.stem for path in CA_DIR.glob("*.py") if path.stem != "__init__")


def forbidden(name: str) -> bool:
    """Whether a module name is Flask (flask, flask_*) or SQLAlchemy."""
    top = name.split(".")[0]
    return top.startswith("flask") or top == "sqlalchemy"


def imported_names(path: Path) -> list[str]:
    """Every absolute module name imported anywhere in a file (also inside functions)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.extend(arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant))
    return names


def test_the_ca_package_has_modules():
    assert {"authority", "csr", "keys", "keystore", "profiles", "signer"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_no_flask_or_sqlalchemy_import_in_source(module):
    names = imported_names(CA_DIR / f"{module}.py")
    assert [name for name in names if forbidden(name)] == []


def test_importing_each_ca_module_loads_neither_flask_nor_sqlalchemy():
    # One fresh interpreter; after each import, whatever Flask or SQLAlchemy module appeared
    # is charged to the module just imported.
    program = (
        "import importlib, json, sys\n"
        "def web():\n"
        "    return sorted(m for m in sys.modules if m.split('.')[0].startswith('flask')\n"
        "                  or m.split('.')[0] == 'sqlalchemy')\n"
        "leaks = {}\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module('portal.ca.' + name)\n"
        "    if web():\n"
        "        leaks[name] = web()\n"
        "        break\n"
        "print(json.dumps(leaks))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
        cwd=CA_DIR.parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}
