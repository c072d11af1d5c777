"""The `portal` commands start on the app without its web part (issue 14: CLI start-up).

What a command imports is checked, not how long it takes (benchmarks/cli_startup.py measures
that): a command that lists CAs must not pay for gunicorn, Flask-Limiter or the blueprints.
"""

import json
import subprocess
import sys

import pytest

from portal import create_app

from .conftest import run_portal

# What only requests or `portal serve` need; none of it is imported by the commands below.
WEB_ONLY = ("portal.web", "portal.serve", "portal.cli.serve", "gunicorn", "flask_limiter",
            "limits", "flask_wtf", "wtforms", "flask_babel", "flask_login", "alembic",
            "flask_migrate", "josepy")

MODULES_AFTER = """
import json, sys
sys.argv = ["portal", *json.loads(sys.argv[1])]
from portal.cli import main
try:
    main()
except SystemExit as exc:
    status = exc.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def modules_after(*args: str) -> tuple[int, list[str]]:
    """The exit status of `portal ARGS` and every module it had imported by its end."""
    result = subprocess.run([sys.executable, "-c", MODULES_AFTER, json.dumps(args)],
                            capture_output=True, text=True, timeout=120)
    report = json.loads(result.stderr.strip().splitlines()[-1])
    return report["status"], report["modules"]


@pytest.mark.parametrize("args", [("ca", "list"), ("cert", "list"), ("user", "list"),
                                  ("crl", "--help"), ("audit", "--help")])
def test_commands_import_nothing_of_the_web(root_ca, args):
    status, modules = modules_after(*args)
    assert status in (0, None)
    loaded = [name for name in modules if name.split(".")[0] in WEB_ONLY
              or any(name == prefix or name.startswith(prefix + ".") for prefix in WEB_ONLY)]
    assert loaded == []


def test_the_commands_still_work_on_the_lean_app(root_ca):
    listed = run_portal("ca", "list", check=True).stdout.decode()
    assert listed.startswith("root (default)\t") and "key ok" in listed
    helped = run_portal("--help", check=True).stdout.decode()
    for command in ("acme", "ocsp", "serve", "notify", "webhook", "limiter", "routes"):
        assert f"  {command} " in helped, command
    assert "Usage: portal serve" in run_portal("serve", "--help", check=True).stdout.decode()


def test_plugin_commands_of_flask_extensions_are_still_found(root_ca):
    # Flask-Limiter's `limiter` group (its subcommands need the flask-limiter[cli] extra)
    result = run_portal("limiter", "--help")
    assert result.returncode == 0, result.stderr.decode()
    assert "Flask-Limiter" in result.stdout.decode()


def test_the_lean_app_offers_the_configured_languages(instance):
    lean = create_app({"PORTAL_LANGUAGES": "ko, ja", "PORTAL_DEFAULT_LANGUAGE": "ja"}, web=False)
    assert lean.extensions["portal.languages"] == ["ko", "ja"]
    assert lean.config["PORTAL_DEFAULT_LANGUAGE"] == "ja"
    assert "auth" not in lean.blueprints and "limiter" not in lean.extensions
    assert create_app({"TESTING": True}).blueprints.keys() >= {"auth", "ping", "api"}
