"""`portal user ...`: accounts."""

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
