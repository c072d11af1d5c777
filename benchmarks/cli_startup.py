"""CPU a `portal` command spends, beside `python -c "import flask"` measured in the same run.

Each command runs as a user runs it (the console script, a fresh process, an instance made by
`portal init` in a temporary folder); its CPU time (user + system, from the child's rusage) is
the median of --runs runs, interleaved with the baseline so that load on a shared machine hits
both alike. Bytecode caching is on, as after `make run`. Target (issue 14): `portal ca list` at
most twice the baseline. The floor row is what the stack itself costs a command that reads the
database (Flask, Flask-SQLAlchemy, cryptography), before any of the portal's code runs.
`--importtime` prints the slowest imports of `portal ca list` (`python -X importtime`), to see
what a command imports that it does not need.

    python benchmarks/cli_startup.py [--runs 7] [--importtime]
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import print_table

BIN = Path(sys.executable).parent
COMMANDS = {
    "portal ca list": ["ca", "list"],
    "portal cert list": ["cert", "list"],
    "portal user list": ["user", "list"],
    "portal --version": ["--version"],
}
TARGET = 2.0
# What any command that reads the database must import, the portal's own code aside: Flask,
# Flask-SQLAlchemy (with SQLAlchemy's engine and ORM) and cryptography's X.509. Printed beside
# the commands so that what is left to cut shows.
FLOOR = "import flask, flask_sqlalchemy, cryptography.x509"
FLOOR_NAME = "floor: " + FLOOR.removeprefix("import ")


def cpu_of(argv: list[str], env: dict) -> float:
    """CPU seconds (user + system) of one child process running argv."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def slowest_imports(env: dict, count: int = 25) -> None:
    """The imports with the largest cumulative time in `portal ca list`."""
    script = "import sys; sys.argv = ['portal', 'ca', 'list']; from portal.cli import main; main()"
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", script], env=env,
                            capture_output=True, text=True, check=True)
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative), name.rstrip()))
    print("\nslowest imports of `portal ca list` (cumulative, ms; -X importtime inflates them)")
    for cumulative, name in sorted(rows, reverse=True)[:count]:
        print(f"{cumulative / 1000:9.1f}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="portal-cli-bench-"))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PORTAL_") and key != "PYTHONDONTWRITEBYTECODE"}
    env["PORTAL_INSTANCE"] = str(folder / "instance")
    try:
        subprocess.run([str(BIN / "portal"), "init"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        baseline = [sys.executable, "-c", "import flask"]
        samples: dict[str, list[float]] = {
            name: [] for name in ["import flask", FLOOR_NAME, *COMMANDS]
        }
        for argv in COMMANDS.values():  # once each first: bytecode written, files cached
            cpu_of([str(BIN / "portal"), *argv], env)
        for _ in range(args.runs):
            samples["import flask"].append(cpu_of(baseline, env))
            samples[FLOOR_NAME].append(cpu_of([sys.executable, "-c", FLOOR], env))
            for name, argv in COMMANDS.items():
                samples[name].append(cpu_of([str(BIN / "portal"), *argv], env))
        rows = [(name, statistics.median(values), "s CPU") for name, values in samples.items()]
        ok = print_table(
            f"CPU per command, median of {args.runs} (lower is better)", rows,
            baseline="import flask", higher_is_better=False,
            targets={"portal ca list": TARGET},
        )
        if args.importtime:
            slowest_imports(env)
        return 0 if ok else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
