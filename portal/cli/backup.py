"""`portal backup` and `portal restore`: a consistent database copy, taken while serving."""

import sys

import click

from ..services import backup as backups
from .common import actor, reports_errors

RESTART_HINT = (
    "now restart every `portal serve` that uses this database (its workers cache the CAs), "
    "and run `portal db upgrade` if the backup comes from an older portal"
)


@click.command("backup")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="The backup file to write (replaced atomically).")
@reports_errors
def backup_command(out_path):
    """Copy the database consistently, also while the portal serves (SQLite or pg_dump)."""
    report = backups.backup(out_path, actor=actor())
    count = "" if report.certificates is None else f", {report.certificates} certificates"
    click.echo(f"backup written to {report.path} ({report.kind}, {report.size} bytes{count})")
    click.echo("the CA secret is not in it: back up instance/ca-secret separately", err=True)


@click.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@reports_errors
def restore_command(backup_file, force):
    """Put a backup made by `portal backup` back in place of the database.

    Certificates revoked since the backup stay revoked, and every CRL is re-signed at once.
    """
    report = backups.restore(backup_file, force=force, actor=actor())
    carried, missing = report.carried.carried, report.carried.missing_ca
    click.echo(f"restored {report.path} ({report.certificates} certificates)")
    if carried:
        click.echo(f"{len(carried)} revocations made after the backup are kept (a CA never "
                   "un-revokes):")
    for revocation in carried:
        click.echo(f"  revoked: {revocation.serial} of CA {revocation.ca_name} "
                   f"({revocation.values['common_name'] or revocation.values['subject']})")
    for outcome in report.crls:
        if outcome.action == "published":
            click.echo(f"{outcome.ca_name}: published CRL number {outcome.state.number}")
        else:
            click.echo(f"portal: {outcome.ca_name}: CANNOT RE-SIGN THE CRL: {outcome.message}; "
                       "run `portal crl refresh` once the CA secret is in place", err=True)
    for revocation in missing:
        click.echo(f"portal: NOT CARRIED FORWARD: {revocation.serial} of CA "
                   f"{revocation.ca_name} is revoked, but the backup predates that CA", err=True)
    click.echo(RESTART_HINT)
    if missing or any(outcome.action != "published" for outcome in report.crls):
        sys.exit(1)
