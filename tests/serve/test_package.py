"""The serving package stands alone: no import cycle with the command line."""

import subprocess
import sys


def test_serving_imports_nothing_of_the_command_line():
    code = ("import sys, portal.serve.application, portal.serve.worker, portal.serve.renewal; "
            "print(sorted(m for m in sys.modules if m.startswith('portal.cli')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_the_command_line_imports_the_serve_command_without_a_cycle():
    code = "import portal.cli.serve as s; print(s.serve_command.name)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "serve"
