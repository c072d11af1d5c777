"""The layers keep to their jobs: views and commands leave the database to the services,
the CA core stays free of Flask and SQLAlchemy, and no module grows past about 400 lines.

These checks read the source (AST), so they fail the moment someone writes a query in a view,
whatever the tests of that view exercise.
"""

import ast
from pathlib import Path

import pytest

import portal

PACKAGE = Path(portal.__file__).parent
# Session and connection calls: whoever calls these talks to the database itself.
DATABASE_CALLS = {
    "commit", "rollback", "execute", "exec_driver_sql", "scalar", "scalars", "query", "flush",
    "add", "add_all", "delete", "merge", "refresh", "remove", "dispose", "begin", "connect",
}
# SQL builders: a view or a command that builds a statement runs it somewhere.
STATEMENT_BUILDERS = {"select", "insert", "update", "delete", "text"}
MAX_LINES = 400


def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (PACKAGE / folder).rglob("*.py"))


def _is_session(node: ast.AST) -> bool:
    """`db.session`, `session`, `db.engine`, `connection` and the like."""
    if isinstance(node, ast.Attribute):
        return node.attr in {"session", "engine"}
    if isinstance(node, ast.Call):
        return _is_session(node.func)
    return isinstance(node, ast.Name) and node.id in {"session", "connection", "engine"}


def database_uses(path: Path) -> list[str]:
    """Every place a module touches the database itself: `db`, SQLAlchemy, queries, commits."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        line = f"line {node.lineno}" if hasattr(node, "lineno") else ""
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module.split(".")[0] == "sqlalchemy"
                or any(alias.name == "db" for alias in node.names)):
            found.append(f"{line}: from {node.module} import "
                         + ", ".join(alias.name for alias in node.names))
        elif isinstance(node, ast.Import) and any(
                alias.name.split(".")[0] == "sqlalchemy" for alias in node.names):
            found.append(f"{line}: import sqlalchemy")
        elif isinstance(node, ast.Attribute) and node.attr == "session" and isinstance(
                node.value, ast.Name) and node.value.id == "db":
            found.append(f"{line}: db.session")
        elif isinstance(node, ast.Attribute) and node.attr in DATABASE_CALLS and _is_session(
                node.value):
            found.append(f"{line}: {ast.unparse(node)}")
        elif isinstance(node, ast.Attribute) and node.attr == "query" and isinstance(
                node.value, ast.Name) and node.value.id[:1].isupper():
            found.append(f"{line}: {node.value.id}.query")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                node.func.id in STATEMENT_BUILDERS):
            found.append(f"{line}: {node.func.id}(...)")
    return found


WEB_AND_CLI = _modules("web", "cli")


@pytest.mark.parametrize("module", WEB_AND_CLI, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_views_and_commands_leave_the_database_to_the_services(module):
    assert database_uses(module) == []


def test_the_database_check_finds_what_it_looks_for():
    for module in ("services/auth.py", "services/certificates.py", "services/backup.py"):
        assert database_uses(PACKAGE / module), module


def test_the_database_check_sees_each_kind_of_use(tmp_path):
    source = tmp_path / "view.py"
    source.write_text(
        "from sqlalchemy import select\n"
        "from ..extensions import db\n"
        "import sqlalchemy.exc\n"
        "db.session.commit()\n"
        "rows = User.query.all()\n"
        "statement = select(User)\n"
        "with engine.connect() as connection:\n"
        "    connection.execute(statement)\n"
    )
    assert sorted(database_uses(source)) == [
        "line 1: from sqlalchemy import select",
        "line 2: from extensions import db",
        "line 3: import sqlalchemy",
        "line 4: db.session",
        "line 4: db.session.commit",
        "line 5: User.query",
        "line 6: select(...)",
        "line 7: engine.connect",
        "line 8: connection.execute",
    ]


def _imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", _modules("ca"), ids=lambda path: path.name)
def test_the_ca_core_imports_neither_flask_nor_sqlalchemy(module):
    imported = _imported_packages(module)
    assert not imported & {"flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug"}, imported


def test_no_module_is_over_400_lines():
    long = {
        str(path.relative_to(PACKAGE)): count
        for path in _modules(".")
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


REQUEST_NAMES = {"request", "session", "g"}  # what only the web layer may read


def request_reads(path: Path) -> list[str]:
    """Every import of Flask's request, session or g (a service takes plain values instead)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "flask":
            found += [f"line {node.lineno}: flask.{alias.name}" for alias in node.names
                      if alias.name in REQUEST_NAMES]
        elif isinstance(node, ast.Attribute) and node.attr in REQUEST_NAMES and isinstance(
                node.value, ast.Name) and node.value.id == "flask":
            found.append(f"line {node.lineno}: flask.{node.attr}")
    return found


@pytest.mark.parametrize("module", _modules("services", "ca"),
                         ids=lambda path: str(path.relative_to(PACKAGE)))
def test_services_take_plain_values_not_the_request(module):
    assert request_reads(module) == []


def test_the_request_check_finds_what_it_looks_for():
    assert request_reads(PACKAGE / "web" / "throttle.py") == ["line 9: flask.request"]


def http_statuses_in_errors(path: Path) -> list[str]:
    """Error classes that carry an HTTP status (web/errors.py's STATUSES says it instead)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                targets = statement.targets if isinstance(statement, ast.Assign) else [
                    getattr(statement, "target", None)]
                if any(isinstance(target, ast.Name) and target.id == "status_code"
                       for target in targets):
                    found.append(f"line {statement.lineno}: {node.name}.status_code")
    return found


@pytest.mark.parametrize("module", _modules("."), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_errors_carry_no_http_status(module):
    assert http_statuses_in_errors(module) == []


def test_the_status_check_finds_what_it_looks_for(tmp_path):
    source = tmp_path / "errors.py"
    source.write_text("class Gone(PortalError):\n    status_code = 410\n")
    assert http_statuses_in_errors(source) == ["line 2: Gone.status_code"]
