"""`portal user ...`: accounts."""

import json

import click

from ..services import users
from .common import actor, read_input, reports_errors


@click.group("user")
def user_group():
    """Accounts."""


@user_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "user"]), required=True)
@click.option("--password-file", help="File holding the password (default: generate one).")
@click.option("--email", help="E-mail address.")
@reports_errors
def user_create(username, role, password_file, email):
    """Create a user."""
    password = None
    if password_file:
        password = read_input(password_file, "password file").decode("utf-8", "replace")
        password = password.rstrip("\r\n")
        if not password:
            raise click.ClickException(f"the password file {password_file!r} is empty")
    if email is not None:  # the address expiry warnings go to: checked as set-email does
        from ..ca.names import check_email

        email = check_email(email.strip()) if email.strip() else None
    user, generated = users.create_user(
        username, role=role, password=password, email=email, actor=actor()
    )
    click.echo(f"created {user.role} {user.username!r}")
    if generated:
        click.echo(f"password (shown once): {generated}")


@user_group.command("set-email")
@click.argument("username")
@click.argument("email")
@reports_errors
def user_set_email(username, email):
    """Set the e-mail address a user's expiry warnings go to ("" clears it)."""
    user = users.set_email(username, email, actor=actor())
    click.echo(f"{user.username}: {user.email or 'no e-mail address'}")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of objects.")
@click.option("--no-header", is_flag=True, help="Leave out the header line.")
@reports_errors
def user_list(as_json, no_header):
    """List every user: name, role, whether they may sign in, e-mail address."""
    items = [
        {"username": user.username, "role": user.role,
         "status": "active" if user.active else "disabled", "email": user.email,
         "created_at": f"{user.created_at:%Y-%m-%dT%H:%M:%SZ}"}
        for user in users.list_users()
    ]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not no_header:
        click.echo("USERNAME\tROLE\tSTATUS\tEMAIL\tCREATED")
    for item in items:
        click.echo(f"{item['username']}\t{item['role']}\t{item['status']}\t"
                   f"{item['email'] or ''}\t{item['created_at']}")


@user_group.command("disable")
@click.argument("username")
@reports_errors
def user_disable(username):
    """Disable a user: signed out everywhere, every API token revoked (never the last admin)."""
    user = users.set_active(users.user_by_name(username).id, False, actor=actor())
    click.echo(f"disabled {user.username}: signed out everywhere, API tokens revoked")


@user_group.command("enable")
@click.argument("username")
@reports_errors
def user_enable(username):
    """Let a disabled user sign in again (their old API tokens stay revoked)."""
    user = users.set_active(users.user_by_name(username).id, True, actor=actor())
    click.echo(f"enabled {user.username}")


@user_group.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Read the new password from stdin (its first line).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
@reports_errors
def user_reset_password(username, password_stdin, generate):
    """Set a new password for USERNAME (asked twice unless given); their sessions end.

    Every sign-in session of the user ends and their API tokens are revoked, on every host,
    and the reset is in the audit log: the way back in for a lost admin password.
    """
    if password_stdin and generate:
        raise click.ClickException("give --password-stdin or --generate, not both")
    user_id = users.user_by_name(username).id  # an unknown name fails before any prompt
    if generate:
        password = None
    elif password_stdin:
        password = read_input("-", "password").decode("utf-8", "replace").splitlines()
        password = password[0] if password else ""
        if not password:
            raise click.ClickException("no password on stdin")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True,
                                err=True)
    user, new_password = users.reset_password(user_id, password, actor=actor())
    click.echo(f"reset the password of {user.username}: signed out everywhere, API tokens "
               "revoked", err=True)
    if generate:
        click.echo(f"password (shown once): {new_password}")
