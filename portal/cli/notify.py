"""`portal notify run`: expiry warnings and webhook deliveries, for cron or a systemd timer."""

import click

from ..services import notify
from .common import reports_errors


@click.group("notify")
def notify_group():
    """Expiry warnings by e-mail and lifecycle webhooks."""


@notify_group.command("run")
@reports_errors
def notify_run():
    """Send the due expiry warnings and webhook events once; exit 1 when something failed."""
    report = notify.run_once()
    click.echo(f"sent {report.mails} mail(s) warning about {report.warned} certificate(s); "
               f"queued {report.webhook_events} webhook event(s), delivered {report.delivered}")
    for problem in report.problems:
        click.echo(f"error: {problem}", err=True)
    if not report.ok:
        raise SystemExit(1)
