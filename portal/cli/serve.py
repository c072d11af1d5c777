"""`portal serve`: the command; the serving itself is `portal.serve`."""

import click

from ..serve.application import default_workers
from ..serve.connections import ClientLimits
from .common import reports_errors


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8443, show_default=True,
              help="HTTPS port (the whole portal).")
@click.option("--http-port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Plain HTTP port for the CA certificate and the CRL (0: none).")
@click.option("--workers", type=click.IntRange(min=1), default=default_workers)
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True,
              help="Requests each worker handles at once (kept-alive connections wait on the "
              "worker's poller and take no thread).")
@click.option("--header-timeout", type=click.FloatRange(min=0.1), show_default=True,
              default=ClientLimits.header_timeout,
              help="Seconds a client has for its TLS handshake and request head, in all; "
              "a connection that takes longer is closed.")
@click.option("--body-timeout", type=click.FloatRange(min=0.1), show_default=True,
              default=ClientLimits.body_timeout,
              help="Seconds a client has to send a request body, in all (then 408).")
@reports_errors
def serve_command(host, port, http_port, workers, threads, header_timeout, body_timeout):
    """Serve the portal over HTTPS with gunicorn (client certificates asked, /ping requires one)."""
    from flask import current_app

    from ..serve.application import serve
    from ..serve.renewal import start_background_jobs
    from ..services.server_tls import ensure_server_certificate, server_files
    from ..services.transaction import release_connections

    app = current_app._get_current_object()
    if ensure_server_certificate():
        click.echo("portal: issued a new server certificate", err=True)
    files = server_files()
    # End this process's transaction and close its connections before gunicorn forks: on
    # PostgreSQL an idle transaction held for the server's lifetime would block DDL (a
    # restore, a migration) and vacuum, and a forked child must never share a connection.
    release_connections()
    status = serve(
        host=host, port=port, http_port=http_port, workers=workers, threads=threads,
        files=files, announce=lambda line: click.echo(line, err=True),
        limits=ClientLimits(header_timeout=header_timeout, body_timeout=body_timeout),
        before_serving=lambda: start_background_jobs(app),
    )
    raise SystemExit(status)
