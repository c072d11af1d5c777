"""`portal serve`'s background threads: server certificate renewal, the notification job.

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
    """Start this process's background threads: renewal, then the notification job."""
    from ..services import notify

    jobs = threading.Thread(target=notify.run_periodically, args=(app,), daemon=True,
                            name="portal-notify")
    jobs.start()
    from ..services import ocsp_refresh

    ocsp_job = threading.Thread(target=ocsp_refresh.run_periodically, args=(app,), daemon=True,
                                name="portal-ocsp")
    ocsp_job.start()
    return [start_renewal(app), jobs, ocsp_job]
