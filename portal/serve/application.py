"""The gunicorn application and the two listeners `portal serve` runs."""

import ctypes
import multiprocessing
import os
import signal
import ssl
import sys
import time
import traceback

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
        "logger_class": "portal.serve.logs.ServeLogger",  # no enrollment tokens in logs
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


def _fork_plain_http(options: dict, https_port: int, limits: ClientLimits | None) -> int:
    """Start the plain-HTTP listener's gunicorn master in a child process; its pid.

    A plain fork, not multiprocessing: gunicorn forks its workers from this child and from
    the parent, and multiprocessing's bookkeeping, copied into every worker, made each one
    fail its exit ("can only test a child process").
    """
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        _die_with_parent()
        sys.argv = sys.argv[:1]
        PortalServer(options, plain_http_gate_port=https_port, client_limits=limits).run()
        status = 0
    except SystemExit as exc:  # gunicorn's master and each of its workers end this way
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(status)


def _stop_child(pid: int, wait: float) -> int:
    """Stop a child listener (SIGTERM, then SIGKILL after `wait` s); its exit status.

    gunicorn's master reaps every child that ends while it runs, ours included: a child that
    is already reaped has stopped, and is not signalled (its pid may be someone else's now).
    """
    limit = time.monotonic() + wait
    signalled = False
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return 0
        if done:
            return os.waitstatus_to_exitcode(status)
        if not signalled:
            os.kill(pid, signal.SIGTERM)
            signalled = True
        elif time.monotonic() > limit:
            os.kill(pid, signal.SIGKILL)
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        time.sleep(0.05)


def describe(host: str, port: int, http_port: int, workers: int, threads: int) -> str:
    """The start-up line: what listens where, with how many processes and threads."""
    each = f"{workers} worker{'s' if workers > 1 else ''} x {threads} threads"
    line = f"portal: HTTPS on https://{host}:{port}/ ({each})"
    if http_port:
        line += (f"; plain HTTP for the CA certificates and CRLs on http://{host}:{http_port}/"
                 f" ({each})")
    return line


def serve(*, host: str, port: int, http_port: int, workers: int, threads: int, files,
          announce, limits: ClientLimits | None = None, before_serving=None) -> int:
    """Run the HTTPS listener here and the plain-HTTP one (if any) in a child; exit status.

    Returns in this process only, once both listeners have stopped (SIGTERM or SIGINT);
    gunicorn's workers, forked from here, leave through SystemExit as gunicorn means them to.
    """
    bind_host = f"[{host}]" if ":" in host else host
    options = common_options(workers, threads)
    master = os.getpid()
    plain = None
    if http_port:
        plain = _fork_plain_http({**options, "bind": [f"{bind_host}:{http_port}"]}, port, limits)
    if before_serving is not None:
        before_serving()
    announce(describe(bind_host, port, http_port, workers, threads))
    status = 1
    try:
        PortalServer(https_options(options, f"{bind_host}:{port}", files),
                     client_limits=limits).run()
        status = 0
    except SystemExit as exc:
        if os.getpid() != master:
            raise  # a gunicorn worker leaving
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:  # Ctrl-C before gunicorn took over the signal
        status = 0
    finally:
        if os.getpid() == master and plain is not None:
            plain_status = _stop_child(plain, options["graceful_timeout"] + 5)
            status = status or plain_status
    announce("portal: stopped" if status == 0 else f"portal: stopped (exit status {status})")
    return status
