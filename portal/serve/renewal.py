"""`portal serve`'s background jobs: certificate renewal, notifications, OCSP, ACME validation.

The certificate is checked every few hours; the notification job (expiry warnings, webhook
deliveries) runs every PORTAL_NOTIFY_INTERVAL seconds.
"""

import threading

RENEWAL_CHECK_SECONDS = 6 * 3600


def renew_periodically(app, every: float = RENEWAL_CHECK_SECONDS) -> None:
    """Renew the server certificate when due, forever (run in a daemon thread)."""
    from ..services.server_tls import ensure_server_certificate

    while True:
        threading.Event().wait(every)
        try:
            with app.app_context():
                if ensure_server_certificate():
                    app.logger.warning("portal: renewed the server certificate")
        except Exception:  # keep serving with the current certificate; say so in the log
            app.logger.exception("portal: server certificate renewal failed")


def start_renewal(app) -> threading.Thread:
    """Start the renewal thread of this process."""
    thread = threading.Thread(target=renew_periodically, args=(app,), daemon=True,
                              name="portal-renewal")
    thread.start()
    return thread


def start_background_jobs(app) -> list[threading.Thread]:
    """Start the background jobs: the ACME validation process, then renewal and notifications.

    The validation worker is forked first, while this process has no other thread.
    """
    from ..services import notify

    start_acme_validation(app)
    jobs = threading.Thread(target=notify.run_periodically, args=(app,), daemon=True,
                            name="portal-notify")
    jobs.start()
    from ..services import ocsp_refresh

    ocsp_job = threading.Thread(target=ocsp_refresh.run_periodically, args=(app,), daemon=True,
                                name="portal-ocsp")
    ocsp_job.start()
    return [start_renewal(app), jobs, ocsp_job]


def start_acme_validation(app) -> int:
    """Fork the ACME validation worker (issue 15) and return its pid.

    A process of its own rather than a thread here: it uses the database at once, and a
    connection open in this process when gunicorn forks its workers would be shared with them
    (SQLite's and libpq's connections must not cross a fork). It is forked before anything
    here opens one, never forks itself, and leaves when this process is gone.
    """
    import os
    import signal

    from ..services import acme_validation

    parent = os.getpid()
    acme_validation.open_wake_pipe()  # gunicorn's workers, forked later, inherit its write end
    pid = os.fork()
    if pid:
        return pid
    status = 0
    try:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        acme_validation.run_periodically(app, parent_pid=parent)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group
        pass
    except BaseException:
        app.logger.exception("acme: the validation worker stopped")
        status = 1
    finally:
        os._exit(status)  # never return into the server's code in this child
