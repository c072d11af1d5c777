"""`portal token ...`: API tokens for the JSON API (shown once, stored hashed, revocable)."""

import json

import click

from ..services import tokens
from .common import actor, reports_errors


@click.group("token")
def token_group():
    """API tokens."""


@token_group.command("create")
@click.argument("username")
@click.option("--name", help="What the token is for (default: api).")
@reports_errors
def token_create(username, name):
    """Create an API token for USERNAME and print it (shown once)."""
    row, token = tokens.create_token(username, name=name, actor=actor())
    click.echo(f"created token {row.id} ({row.name}) for {username}; it is shown once:", err=True)
    click.echo(token)


@token_group.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of objects.")
@click.option("--no-header", is_flag=True, help="Leave out the header line.")
@reports_errors
def token_list(username, as_json, no_header):
    """List API tokens (never the tokens themselves: only their first characters)."""
    user_id = tokens.user_by_name(username).id if username else None
    rows = tokens.list_tokens(user_id=user_id)
    items = [
        {"id": row.id, "user": row.user.username, "name": row.name, "prefix": row.prefix,
         "created_at": f"{row.created_at:%Y-%m-%dT%H:%M:%SZ}",
         "revoked_at": f"{row.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if row.revoked_at else None}
        for row in rows
    ]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not no_header:
        click.echo("ID\tUSER\tPREFIX\tSTATE\tNAME")
    for item in items:
        state = f"revoked {item['revoked_at']}" if item["revoked_at"] else "active"
        click.echo(f"{item['id']}\t{item['user']}\t{item['prefix']}…\t{state}\t{item['name']}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@reports_errors
def token_revoke(token_id):
    """Revoke the API token with id TOKEN_ID (see `portal token list`)."""
    row = tokens.revoke_token(token_id, actor=actor())
    click.echo(f"revoked token {row.id} ({row.name}) of {row.user.username}")
