"""`portal acme create|list|disable|enable` and `portal acme eab create`: the ACME endpoints."""

import click

from ..services import acme_accounts, acme_endpoints
from .common import actor, reports_errors


@click.group("acme")
def acme_group():
    """ACME endpoints (RFC 8555) that certbot, lego and others get certificates from."""


@acme_group.command("create")
@click.argument("name")
@click.option("--ca", "ca_name", help="The CA that signs (default: the default CA).")
@click.option("--profile", default="server", show_default=True)
@click.option("--domain", "domains", multiple=True,
              help="A DNS suffix it may issue for (repeatable): example.com allows "
                   "example.com and every name under it.")
@click.option("--network", "networks", multiple=True,
              help="An IP network it may issue for (repeatable), e.g. 10.0.0.0/8.")
@click.option("--days", type=int, default=acme_endpoints.DEFAULT_DAYS, show_default=True,
              help="Validity of the certificates (capped like every profile).")
@click.option("--eab-required", is_flag=True,
              help="Accounts need an external account binding (`portal acme eab create`).")
@reports_errors
def acme_create(name, ca_name, profile, domains, networks, days, eab_required):
    """Create the endpoint NAME at /acme/NAME/directory."""
    endpoint = acme_endpoints.create_endpoint(
        name, ca_name=ca_name, profile=profile, domains=domains, networks=networks, days=days,
        eab_required=eab_required, actor=actor(),
    )
    click.echo(f"created ACME endpoint {endpoint.name}: /acme/{endpoint.name}/directory")


@acme_group.command("list")
@reports_errors
def acme_list():
    """List the endpoints and their policy."""
    for row in acme_endpoints.list_endpoints():
        state = "enabled" if row.enabled else "disabled"
        click.echo(f"{row.name}\t{state}\tca={acme_endpoints.ca_name_of(row)}\t"
                   f"profile={row.profile}\tdays={row.days}\t"
                   f"eab={'required' if row.eab_required else 'optional'}\t"
                   f"domains={row.domains or '-'}\tnetworks={row.networks or '-'}")


@acme_group.command("disable")
@click.argument("name")
@reports_errors
def acme_disable(name):
    """Disable NAME: every request to it answers 404 until it is enabled again."""
    acme_endpoints.set_enabled(name, False, actor=actor())
    click.echo(f"disabled ACME endpoint {name}")


@acme_group.command("enable")
@click.argument("name")
@reports_errors
def acme_enable(name):
    """Enable NAME again."""
    acme_endpoints.set_enabled(name, True, actor=actor())
    click.echo(f"enabled ACME endpoint {name}")


@acme_group.group("eab")
def eab_group():
    """External account binding keys."""


@eab_group.command("create")
@click.argument("username")
@reports_errors
def eab_create(username):
    """A new EAB key for USERNAME: certificates of its account belong to that user."""
    row, hmac_key = acme_accounts.create_eab_key(username, actor=actor())
    click.echo(f"key id: {row.key_id}")
    click.echo(f"hmac key (shown once): {hmac_key}")
