"""`portal audit ...`: the audit log's integrity."""

import click

from ..services import audit_chain
from .common import reports_errors


@click.group("audit")
def audit_group():
    """The audit log."""


@audit_group.command("verify")
@reports_errors
def audit_verify():
    """Check the audit log's chain of seals; name the first row changed, removed or inserted."""
    intact, message = audit_chain.verify()
    if not intact:
        raise click.ClickException(message)
    click.echo(message)
