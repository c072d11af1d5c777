"""Signing in and out: the views parse and render; the services read, write and commit."""

import ast
from pathlib import Path

import pytest

import portal

PACKAGE = Path(portal.__file__).parent
DATABASE_CALLS = {"commit", "rollback", "execute", "scalar", "scalars", "query", "flush", "add"}


def database_uses(path: Path) -> list[str]:
    """Every place a module touches the database itself: `db`, SQLAlchemy, session calls."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module.startswith("sqlalchemy")
                or any(alias.name == "db" for alias in node.names)):
            found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and node.attr in DATABASE_CALLS and isinstance(
                node.value, ast.Attribute) and node.value.attr == "session":
            found.append(f"line {node.lineno}: session.{node.attr}")
    return found


@pytest.mark.parametrize("module", ["web/auth.py", "web/sessions.py"])
def test_sign_in_sign_out_and_the_session_check_leave_the_database_to_services(module):
    assert database_uses(PACKAGE / module) == []


def test_the_check_finds_what_it_looks_for():
    assert database_uses(PACKAGE / "services" / "auth.py")
