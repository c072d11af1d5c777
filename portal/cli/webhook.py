"""`portal webhook add|list|remove`: the URLs that receive lifecycle events."""

import click

from ..services import webhooks
from .common import actor, read_input, reports_errors


@click.group("webhook")
def webhook_group():
    """Lifecycle webhooks (Standard Webhooks signatures)."""


@webhook_group.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, required=True,
              help=f"Event type (repeatable, or comma-separated): {', '.join(webhooks.EVENTS)}, "
                   "or all.")
@click.option("--secret-file", help="File holding the signing secret (whsec_...); "
                                    "default: generate one and print it once.")
@reports_errors
def webhook_add(url, events, secret_file):
    """Register URL for some events."""
    secret = None
    if secret_file:
        secret = read_input(secret_file, "secret file").decode("utf-8", "replace").strip()
        if not secret:
            raise click.ClickException(f"the secret file {secret_file!r} is empty")
    row = webhooks.add_webhook(url, events, secret=secret, actor=actor())
    click.echo(f"added webhook {row.id} {row.url} ({row.events})")
    if secret is None:
        click.echo(f"secret (shown once): {row.secret}")


@webhook_group.command("list")
@reports_errors
def webhook_list():
    """List the registered webhooks."""
    for row in webhooks.list_webhooks():
        click.echo(f"{row.id}\t{row.url}\t{row.events}\t{row.created_by}")


@webhook_group.command("remove")
@click.argument("webhook_id", type=int)
@reports_errors
def webhook_remove(webhook_id):
    """Unregister a webhook (its pending deliveries are dropped)."""
    row = webhooks.remove_webhook(webhook_id, actor=actor())
    click.echo(f"removed webhook {row.id} {row.url}")
