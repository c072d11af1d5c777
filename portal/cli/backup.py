"""`portal backup` and `portal restore`: a consistent database copy, taken while serving."""

import click

from ..extensions import db
from ..services import audit
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
    report = backups.backup(out_path)
    audit.record("backup.create", actor=actor(), detail=f"{report.kind} {report.path}")
    db.session.commit()
    count = "" if report.certificates is None else f", {report.certificates} certificates"
    click.echo(f"backup written to {report.path} ({report.kind}, {report.size} bytes{count})")
    click.echo("the CA secret is not in it: back up instance/ca-secret separately", err=True)


@click.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@reports_errors
def restore_command(backup_file, force):
    """Put a backup made by `portal backup` back in place of the database."""
    report = backups.restore(backup_file, force=force)
    audit.record("backup.restore", actor=actor(), detail=f"{report.kind} {report.path}")
    db.session.commit()
    click.echo(f"restored {report.path} ({report.certificates} certificates)")
    click.echo(RESTART_HINT)
