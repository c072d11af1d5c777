"""`portal cert ...`: issuing, listing, showing and revoking certificates."""

import json

import click
from flask import current_app

from ..ca.pem import to_pem
from ..ca.revocation import REASONS
from ..services import certificates, issuance, users, validity
from .common import actor, read_input, reports_errors, write_output


@click.group("cert")
def cert_group():
    """Certificates."""


@cert_group.command("issue")
@click.option("--csr", "csr_path", required=True, help="CSR file, PEM or DER ('-' for stdin).")
@click.option("--profile", type=click.Choice(["server", "client"]), required=True)
@click.option("--ca", "ca_name", help="Issuing CA (default: the default CA).")
@click.option("--days", type=click.IntRange(min=1), help="Validity in days.")
@click.option("--out", "out_path", help="Write the certificate here (default: stdout).")
@click.option("--owner", help="User who owns it (sees it, gets its expiry warnings).")
@reports_errors
def cert_issue(csr_path, profile, ca_name, days, out_path, owner):
    """Issue a certificate from a CSR."""
    limit = current_app.config["PORTAL_MAX_CSR_BYTES"]
    owner_id = users.user_by_name(owner).id if owner else None
    row = issuance.issue_from_csr(
        read_input(csr_path, "CSR", limit), profile, ca_name=ca_name, days=days,
        owner_id=owner_id, actor=actor(),
    )
    write_output(out_path, to_pem(certificates.load_x509(row)))
    planned = validity.plan_validity(profile, days, ca_name=ca_name)  # read once it is signed
    if planned.capped:
        click.echo(f"note: {planned.reason}", err=True)
    click.echo(f"issued {row.serial} {row.subject} until {row.not_after:%Y-%m-%dT%H:%M:%SZ}",
               err=True)


@cert_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of objects.")
@click.option("--status", type=click.Choice(["pending", "issued", "revoked"]))
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--no-header", is_flag=True, help="Leave out the header line.")
@reports_errors
def cert_list(as_json, status, limit, no_header):
    """List certificates, newest first."""
    rows = certificates.list_certificates(status=status, limit=limit)
    if as_json:
        click.echo(json.dumps([certificates.summary(row) for row in rows], indent=2))
        return
    if not no_header:
        click.echo("SERIAL\tSTATUS\tPROFILE\tEXPIRES\tSUBJECT")
    for row in rows:
        click.echo(f"{row.serial}\t{row.status}\t{row.profile}\t"
                   f"{row.not_after:%Y-%m-%d}\t{row.subject}")


@cert_group.command("show")
@click.argument("serial")
@click.option("--ca", "ca_name", help="CA, when a serial exists under several.")
@click.option("--pem", is_flag=True, help="Print the certificate as PEM.")
@reports_errors
def cert_show(serial, ca_name, pem):
    """Show one certificate."""
    row = certificates.get_certificate(serial, ca_name=ca_name)
    if pem:
        if row.der is None:
            raise click.ClickException(f"certificate {row.serial} is pending: nothing signed")
        write_output(None, to_pem(certificates.load_x509(row)))
        return
    for key, value in certificates.summary(row).items():
        if isinstance(value, list):
            value = ", ".join(value)
        click.echo(f"{key:20} {'' if value is None else value}")


@cert_group.command("revoke")
@click.argument("serial")
@click.option("--reason", type=click.Choice(list(REASONS), case_sensitive=False),
              default="unspecified", show_default=True)
@click.option("--ca", "ca_name", help="CA, when a serial exists under several.")
@reports_errors
def cert_revoke(serial, reason, ca_name):
    """Revoke a certificate."""
    row = certificates.revoke_certificate(serial, reason=reason, ca_name=ca_name, actor=actor())
    click.echo(f"revoked {row.serial} ({row.revocation_reason})")
