"""What every portal command shares: the actor, error reporting, reading and writing files."""

import functools
import getpass
import os
import sys

import click
from sqlalchemy.exc import DBAPIError

from ..errors import PortalError

MAX_INPUT_FILE_BYTES = 1024 * 1024


def actor() -> str:
    """Who runs this command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid-{os.getuid()}"


def reports_errors(command):
    """Turn a PortalError or a database failure into one line on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PortalError as exc:
            raise click.ClickException(exc.message) from None
        except DBAPIError as exc:
            raise click.ClickException(database_problem(exc)) from None

    return wrapper


def database_problem(exc: DBAPIError) -> str:
    """One line saying what is wrong with the database and what to do about it."""
    detail = str(exc.orig).splitlines()[0][:200] if exc.orig else type(exc).__name__
    if "no such table" in detail or "does not exist" in detail:
        return f"the database has no portal tables ({detail}): run `portal init`"
    if "unable to open" in detail:
        return f"cannot open the database ({detail}): run `portal init` to create it"
    return f"database error: {detail}"


def read_input(path: str, what: str, limit: int = MAX_INPUT_FILE_BYTES) -> bytes:
    """Read a file given on the command line ('-' for stdin), refusing huge ones."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise click.ClickException(f"cannot read the {what} {path!r}: {exc.strerror}") from None
    if len(data) > limit:
        raise click.ClickException(f"the {what} {path!r} is larger than {limit} bytes")
    return data


def write_output(path: str | None, data: bytes) -> None:
    """Write to a file, or to stdout when no path (or '-') is given."""
    if not path or path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path!r}: {exc.strerror}") from None


