"""`portal ocsp refresh`: keep the stored OCSP responses fresh (for cron or a systemd timer)."""

import sys

import click

from ..services.ocsp_refresh import refresh_all
from .common import actor, reports_errors


@click.group("ocsp")
def ocsp_group():
    """The OCSP responder's stored responses and responder certificates."""


@ocsp_group.command("refresh")
@reports_errors
def ocsp_refresh():
    """Re-sign responses past half of their validity, sign missing ones, renew responders."""
    failed = False
    for outcome in refresh_all(actor=actor()):
        line = f"{outcome.ca}: signed {outcome.signed} response(s)"
        if outcome.responder_renewed:
            line += ", issued a new responder certificate"
        if outcome.problem:
            failed = True
            click.echo(f"portal: {outcome.ca}: CANNOT SIGN OCSP RESPONSES: {outcome.problem}",
                       err=True)
            continue
        click.echo(line)
    if failed:
        sys.exit(1)
