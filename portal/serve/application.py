"""The gunicorn application and the two listeners `portal serve` runs."""

import ctypes
import multiprocessing
import signal
import ssl
import sys

from gunicorn.app.base import BaseApplication

from .connections import AnswerLateBodies, BoundedSSLSocket, ClientLimits
from .gate import PlainHttpGate
from .tls import TLSContextCache

WORKER_CLASS = "portal.serve.worker.PollingThreadWorker"


class PortalServer(BaseApplication):
    """gunicorn run from inside the `portal` command, with the app factory."""

    def __init__(self, options: dict, *, plain_http_gate_port: int | None = None,
                 client_limits: ClientLimits | None = None):
        self.options = options
        self.gate_port = plain_http_gate_port
        self.client_limits = client_limits or ClientLimits()  # read by the worker
        super().__init__()

    def load_config(self):
        """Pass our options to gunicorn's settings."""
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 24 opens a control socket at one fixed path per user: two listeners
            # (or two portals) would fight over it, and the portal has no use for it.
            self.cfg.set("control_socket_disable", True)

    def load(self):
        """Each worker builds its own app (and loads the CA key once)."""
        from .. import create_app

        app = AnswerLateBodies(create_app())
        return PlainHttpGate(app, self.gate_port) if self.gate_port else app


def default_workers() -> int:
    """Two workers per core, at least two."""
    return max(2, multiprocessing.cpu_count() * 2)


def common_options(workers: int, threads: int = 4) -> dict:
    """Gunicorn settings shared by both listeners."""
    return {
        "workers": workers,
        "worker_class": WORKER_CLASS,
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        "logger_class": "portal.accesslog.RedactingLogger",  # no enrollment tokens in logs
        "limit_request_field_size": 16384,
    }


def https_options(options: dict, bind: str, files) -> dict:
    """The HTTPS listener's settings: the server certificate, client certificates asked."""
    return {
        **options,
        "bind": [bind],
        "certfile": files.certificate,
        "keyfile": files.key,
        "ca_certs": files.client_ca_bundle,
        "cert_reqs": ssl.CERT_OPTIONAL,
        "ssl_context": TLSContextCache(BoundedSSLSocket),
    }


def _die_with_parent() -> None:
    try:  # Linux: PR_SET_PDEATHSIG, so the HTTP listener never outlives `portal serve`
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def _run_plain_http(options: dict, https_port: int, limits: ClientLimits) -> None:
    _die_with_parent()
    sys.argv = sys.argv[:1]
    PortalServer(options, plain_http_gate_port=https_port, client_limits=limits).run()


def serve(*, host: str, port: int, http_port: int, workers: int, threads: int, files,
          announce, limits: ClientLimits | None = None) -> None:
    """Run the HTTPS listener here and the plain-HTTP one (if any) in a forked child."""
    bind_host = f"[{host}]" if ":" in host else host
    options = common_options(workers, threads)
    plain = None
    if http_port:
        plain = multiprocessing.get_context("fork").Process(
            target=_run_plain_http,
            args=({**options, "bind": [f"{bind_host}:{http_port}"]}, port, limits),
            daemon=False,
        )
        plain.start()
    announce(f"portal: https://{bind_host}:{port}/ and http://{bind_host}:{http_port}/ "
             f"({workers} workers)")
    try:
        PortalServer(https_options(options, f"{bind_host}:{port}", files),
                     client_limits=limits).run()
    finally:
        if plain is not None and plain.is_alive():
            plain.terminate()
            plain.join(10)
