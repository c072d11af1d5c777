"""What every portal command shares: the actor, error reporting, reading and writing files."""

import functools
import getpass
import os
import sys

import click

from ..errors import PortalError
from ..services.transaction import DatabaseError, database_problem

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
        except DatabaseError as exc:
            raise click.ClickException(database_problem(exc)) from None

    return wrapper


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


