"""`portal enroll ...`: single-use enrollment links, printed once (the portal keeps a hash)."""

import click

from ..ca.keys import DEFAULT_KEY_TYPE, ED25519_LIMITS, KEY_TYPES
from ..services import enrollment
from .common import actor, reports_errors


@click.group("enroll")
def enroll_group():
    """Enrollment links: download a key and certificate once, without an account."""


@enroll_group.command("create")
@click.option("--cn", "common_name", required=True, help="Subject common name.")
@click.option("--email", help="E-mail address (a subjectAltName).")
@click.option("--profile", type=click.Choice(["client", "server"]), default="client",
              show_default=True)
@click.option("--key-type", type=click.Choice(KEY_TYPES), default=DEFAULT_KEY_TYPE,
              show_default=True, help=ED25519_LIMITS)
@click.option("--hours", type=click.IntRange(1, enrollment.MAX_HOURS),
              default=enrollment.DEFAULT_HOURS, show_default=True,
              help="How long the link works.")
@click.option("--days", type=click.IntRange(min=1), help="Certificate validity in days.")
@reports_errors
def enroll_create(common_name, email, profile, key_type, hours, days):
    """Create a single-use link for CN and print it (on PORTAL_WEB_URL)."""
    row, token = enrollment.create_link(
        common_name=common_name, email=email, profile_name=profile, key_type=key_type,
        hours=hours, days=days, actor=actor(),
    )
    click.echo(f"created link {row.id} for CN={row.common_name} ({row.profile}), valid until "
               f"{row.expires_at:%Y-%m-%d %H:%M} UTC; it is shown once:", err=True)
    click.echo(enrollment.link_url(token))


@enroll_group.command("list")
@click.option("--no-header", is_flag=True, help="Leave out the header line.")
@reports_errors
def enroll_list(no_header):
    """List the latest links and their state (never the links themselves)."""
    if not no_header:
        click.echo("ID\tSTATE\tEXPIRES\tPROFILE\tCN\tEMAIL")
    for row in enrollment.list_links():
        click.echo(f"{row.id}\t{enrollment.link_state(row)}\t{row.expires_at:%Y-%m-%dT%H:%MZ}\t"
                   f"{row.profile}\t{row.common_name}\t{row.email or ''}")


@enroll_group.command("cancel")
@click.argument("link_id", type=int)
@reports_errors
def enroll_cancel(link_id):
    """Withdraw the unused link LINK_ID (see `portal enroll list`)."""
    row = enrollment.cancel_link(link_id, actor=actor())
    click.echo(f"withdrew link {row.id} for CN={row.common_name}")
