"""`portal webserver-config apache-wsgi`: the portal inside Apache, in mod_wsgi daemon processes."""

import grp
import os
import pwd
import subprocess
import sys

import click
from cryptography import x509
from flask import current_app

import portal

from ..services.server_tls import ensure_server_certificate, server_files
from ..webserver_config_wsgi import WsgiSite, render_apache_wsgi

MODULE_CONFIG_TIMEOUT_SECONDS = 60
NO_MODULE = """\
# mod_wsgi is not installed in {python_home}: `{python_home}/bin/pip install mod_wsgi` (needs
# apache2-dev), then `{python_home}/bin/mod_wsgi-express module-config` prints the LoadModule
# line to put here (or run this command again)."""


def load_module_lines(python_home: str) -> str:
    """The LoadModule (and LoadFile) lines of the mod_wsgi installed in `python_home`."""
    express = os.path.join(python_home, "bin", "mod_wsgi-express")
    if not os.access(express, os.X_OK):
        click.echo(f"warning: {express} not found: the site needs a LoadModule line for "
                   "mod_wsgi (see its first lines)", err=True)
        return NO_MODULE.format(python_home=python_home)
    try:
        result = subprocess.run([express, "module-config"], capture_output=True, text=True,
                                timeout=MODULE_CONFIG_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise click.ClickException(f"cannot run `{express} module-config`: {exc}") from None
    lines = [line for line in result.stdout.splitlines()
             if line.startswith(("LoadModule ", "LoadFile "))]
    if result.returncode != 0 or not lines:
        raise click.ClickException(f"`{express} module-config` failed: "
                                   f"{(result.stderr or result.stdout).strip()[:200]}")
    body = "\n".join(f"    {line}" for line in lines)
    return f"<IfModule !wsgi_module>\n{body}\n</IfModule>"


def daemon_account(instance: str, user: str | None, group: str | None):
    """The daemon's user and group: as given, else the instance folder's owner (never root)."""
    status = os.stat(instance)
    if user is None and status.st_uid != 0:
        user = pwd.getpwuid(status.st_uid).pw_name
        group = group or grp.getgrgid(status.st_gid).gr_name
    if user is None:
        click.echo(f"note: {instance} belongs to root, and mod_wsgi runs no daemon as root: "
                   "the site leaves the daemon to Apache's User, who must be able to read and "
                   "write the instance folder (or pass --daemon-user)", err=True)
    return user, group


def _warn_unless_named(server_name: str, certificate: str) -> None:
    with open(certificate, "rb") as handle:
        leaf = x509.load_pem_x509_certificates(handle.read())[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    if server_name not in names.get_values_for_type(x509.DNSName):
        click.echo(f"warning: the server certificate does not name {server_name!r}; add it to "
                   "PORTAL_SERVER_NAMES and run `portal init` again", err=True)


def apache_wsgi_site(*, server_name: str, https_listen: str | None, http_listen: str | None,
                     crl_file: str | None, python_home: str | None, user: str | None,
                     group: str | None, ocsp_url: str = "") -> str:
    """The text of the mod_wsgi site for this instance (issuing the server certificate first)."""
    ensure_server_certificate()
    files = server_files()
    instance = os.path.abspath(current_app.instance_path)
    python_home = os.path.abspath(python_home or sys.prefix)
    if not os.path.isdir(python_home):
        raise click.ClickException(f"--python-home {python_home!r} is not a folder: give the "
                                   "virtualenv the portal is installed in")
    load_module = load_module_lines(python_home)  # a broken mod_wsgi fails before any note
    crl = os.path.abspath(crl_file or os.path.join(instance, "crl.pem"))
    _warn_unless_named(server_name, files.certificate)
    if not os.path.exists(crl):
        click.echo(f"note: {crl} does not exist yet: run `portal crl export --out {crl} "
                   "--format pem` before starting Apache", err=True)
    user, group = daemon_account(instance, user, group)
    return render_apache_wsgi(WsgiSite(
        server_name=server_name, certificate=files.certificate, key=files.key,
        ca_bundle=files.client_ca_bundle, crl=crl, https_listen=https_listen or "*:443",
        http_listen=http_listen or "*:80", instance=instance, python_home=python_home,
        wsgi_script=os.path.join(os.path.dirname(os.path.abspath(portal.__file__)), "wsgi.py"),
        load_module=load_module, user=user, group=group, ocsp_url=ocsp_url,
    ))
