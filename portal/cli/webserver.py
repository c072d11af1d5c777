"""`portal webserver-config nginx|apache`: a working front-end configuration for the portal."""

import os

import click
from cryptography import x509
from flask import current_app

from ..ca.urls import certificate_base_url
from ..services.proxy_certs import ensure_proxy_certificate
from ..services.server_tls import ensure_server_certificate, server_files
from ..webserver_config import WebServerSite, render
from .common import actor, reports_errors
from .webserver_wsgi import apache_wsgi_site

LISTEN_DEFAULTS = {"nginx": ("443", "80"), "apache": ("*:443", "*:80")}


@click.command("webserver-config")
@click.argument("kind", type=click.Choice(["nginx", "apache", "apache-wsgi"]))
@click.option("--server-name", default="localhost", show_default=True)
@click.option("--upstream", default="https://127.0.0.1:8443", show_default=True,
              help="Where `portal serve` listens (its HTTPS port).")
@click.option("--https-listen", help="Listen address for HTTPS (nginx 443, Apache *:443).")
@click.option("--http-listen", help="Listen address for plain HTTP (nginx 80, Apache *:80).")
@click.option("--crl-file", help="The CRL file `portal crl export` writes "
                                 "(default: crl.pem in the instance folder).")
@click.option("--ocsp-url", help="The portal's OCSP responder as the web server reaches it "
                                "(default: PORTAL_PUBLIC_URL/ocsp; 'off' leaves OCSP out).")
@click.option("--new-proxy-cert", is_flag=True,
              help="Issue the web server a new client certificate even if its current one "
                   "is still good (revoke the old one with `portal cert revoke`).")
@click.option("--python-home", help="apache-wsgi: the virtualenv the portal is installed in "
                                    "(default: this one).")
@click.option("--daemon-user", help="apache-wsgi: the user the portal runs as "
                                    "(default: the instance folder's owner).")
@click.option("--daemon-group", help="apache-wsgi: its group (default: the folder's group).")
@reports_errors
def webserver_config_command(kind, server_name, upstream, https_listen, http_listen, crl_file,
                             new_proxy_cert, ocsp_url, python_home, daemon_user, daemon_group):
    """Print an nginx or Apache configuration that fronts the portal with mutual TLS.

    The web server gets a client certificate of its own (in the instance folder, issued anew
    when missing, revoked or due): the portal believes its X-SSL-Client-Cert header only on
    connections that present it. `apache-wsgi` runs the portal inside Apache with mod_wsgi
    instead (no `portal serve`, no proxy certificate).
    """
    if kind == "apache-wsgi":
        click.echo(apache_wsgi_site(
            server_name=server_name, https_listen=https_listen, http_listen=http_listen,
            crl_file=crl_file, python_home=python_home, user=daemon_user, group=daemon_group,
            ocsp_url=responder_url(ocsp_url),
        ), nl=False)
        return
    ensure_server_certificate()
    proxy = ensure_proxy_certificate(force=new_proxy_cert, actor=actor())
    if proxy.issued_now:
        click.echo(f"note: issued the web server's client certificate {proxy.serial} "
                   f"({proxy.files.certificate}); reload the web server to use it", err=True)
    files = server_files()
    default_https, default_http = LISTEN_DEFAULTS[kind]
    crl = os.path.abspath(crl_file or os.path.join(current_app.instance_path, "crl.pem"))
    with open(files.certificate, "rb") as handle:
        leaf = x509.load_pem_x509_certificates(handle.read())[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    if server_name not in names.get_values_for_type(x509.DNSName):
        click.echo(
            f"warning: the server certificate does not name {server_name!r}; add it to "
            "PORTAL_SERVER_NAMES and run `portal init` again", err=True,
        )
    if not os.path.exists(crl):
        click.echo(f"note: {crl} does not exist yet: run `portal crl export --out {crl} "
                   "--format pem` before starting the web server", err=True)
    click.echo(render(kind, WebServerSite(
        server_name=server_name, upstream=upstream, certificate=files.certificate,
        key=files.key, ca_bundle=files.client_ca_bundle, crl=crl,
        https_listen=https_listen or default_https, http_listen=http_listen or default_http,
        proxy_certificate=proxy.files.certificate, proxy_key=proxy.files.key,
        proxy_bundle=proxy.files.bundle, proxy_serial=proxy.serial,
        ocsp_url=responder_url(ocsp_url),
    )), nl=False)


def responder_url(given: str | None) -> str:
    """The OCSP responder URL for the web server: given, or PORTAL_PUBLIC_URL/ocsp; 'off': ''."""
    if given and given.strip().lower() == "off":
        return ""
    return given or certificate_base_url(current_app.config["PORTAL_PUBLIC_URL"]) + "/ocsp"
