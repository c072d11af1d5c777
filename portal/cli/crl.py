"""`portal crl ...`: re-signing CRLs from cron or a systemd timer, and exporting them to files."""

import os
import subprocess
import sys
import tempfile

import click

from ..ca.crl import der_to_pem
from ..services import crl as crl_service
from .common import actor, reports_errors

THEN_TIMEOUT_SECONDS = 300


def _when(moment) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}" if moment else "-"


@click.group("crl")
def crl_group():
    """Certificate revocation lists."""


@crl_group.command("refresh")
@click.option("--ca", "ca_name", help="Only this CA (default: every CA).")
@click.option("--force", is_flag=True, help="Re-sign even CRLs that are not due yet.")
@reports_errors
def crl_refresh(ca_name, force):
    """Re-sign CRLs past half of their lifetime, or older than a revocation (for cron)."""
    failed = False
    for outcome in crl_service.refresh(ca_name=ca_name, force=force, actor=actor()):
        state = outcome.state
        if outcome.action == "published":
            click.echo(f"{outcome.ca_name}: published CRL number {state.number} "
                       f"({state.revoked_count} entries), next update {_when(state.next_update)}")
        elif outcome.action == "fresh":
            click.echo(f"{outcome.ca_name}: CRL number {state.number} is fresh "
                       f"(re-signed from {_when(state.refresh_at)})")
        else:
            failed = True
            click.echo(f"portal: {outcome.ca_name}: CANNOT RE-SIGN THE CRL: {outcome.message}; "
                       f"the current one expires {_when(state.next_update)}", err=True)
    if failed:
        sys.exit(1)


def write_atomically(path: str, data: bytes) -> None:
    """Replace `path` with `data` in one step: a temporary file in the same folder, then rename.

    A reader (nginx reloading, Apache) sees the old file or the new one, never half of one.
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644  # a CRL is public
    descriptor, temporary = tempfile.mkstemp(prefix=".crl-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def _read_existing(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


@crl_group.command("export")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="The file to write (replaced atomically).")
@click.option("--ca", "ca_name", help="CA (default: the default CA).")
@click.option("--format", "form", type=click.Choice(["pem", "der"]), default="pem",
              show_default=True)
@click.option("--chain/--no-chain", default=None,
              help="PEM only: append the CRLs of the CA's parents (nginx and Apache check "
                   "every level). Default: on for PEM.")
@click.option("--then", "then_command",
              help="Run this shell command when the file changed, e.g. 'nginx -s reload'.")
@reports_errors
def crl_export(out_path, ca_name, form, chain, then_command):
    """Write the current CRL to a file (re-signing it first when due); run --then on change."""
    if chain and form == "der":
        raise click.UsageError("--chain needs --format pem: a DER file holds one CRL")
    chain = form == "pem" if chain is None else chain
    crls = crl_service.current_crls(ca_name, chain=chain, actor=actor())
    if form == "der":
        data = crls[0][1]
    else:
        data = b"".join(der_to_pem(der) for _state, der in crls)
    now = crl_service.utcnow()
    stale = [state for state, _der in crls if state.is_due(now)]
    described = ", ".join(f"{state.ca_name} number {state.number}" for state, _der in crls)
    if _read_existing(out_path) == data:
        click.echo(f"unchanged: {out_path} (CRL {described})")
    else:
        try:
            write_atomically(out_path, data)
        except OSError as exc:
            raise click.ClickException(f"cannot write {out_path!r}: {exc.strerror}") from None
        click.echo(f"wrote {out_path} (CRL {described})")
        if then_command:
            _run_then(then_command)
    for state in stale:
        click.echo(f"portal: {state.ca_name}: the CRL is past its re-signing time and could "
                   f"not be re-signed; it expires {_when(state.next_update)}", err=True)
    if stale:
        sys.exit(1)


def _run_then(command: str) -> None:
    """Run the --then command through the shell; its failure is ours."""
    click.echo(f"running: {command}")
    try:
        result = subprocess.run(command, shell=True, timeout=THEN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise click.ClickException(
            f"--then command timed out after {THEN_TIMEOUT_SECONDS} s: {command}"
        ) from None
    if result.returncode != 0:
        raise click.ClickException(
            f"--then command failed with exit status {result.returncode}: {command}"
        )
