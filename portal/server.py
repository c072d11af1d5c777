"""`portal serve`: the portal under gunicorn, a production server."""

import multiprocessing

import click
from gunicorn.app.base import BaseApplication


class PortalServer(BaseApplication):
    """gunicorn run from inside the `portal` command, with the app factory."""

    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        """Pass our options to gunicorn's settings."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """Each worker builds its own app (and loads the CA key once)."""
        from . import create_app

        return create_app()


def default_workers() -> int:
    """Two workers per core, at least two."""
    return max(2, multiprocessing.cpu_count() * 2)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8443, show_default=True,
              help="HTTPS port.")
@click.option("--http-port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              help="Plain HTTP port for the CA certificate and the CRL.")
@click.option("--workers", type=click.IntRange(min=1), default=default_workers)
def serve_command(host, port, http_port, workers):
    """Serve the portal with gunicorn."""
    click.echo(f"portal: serving http://{host}:{http_port}/ with {workers} workers", err=True)
    PortalServer(
        {
            "bind": [f"{host}:{http_port}"],
            "workers": workers,
            "worker_class": "sync",
            "timeout": 60,
            "accesslog": "-",
        }
    ).run()
