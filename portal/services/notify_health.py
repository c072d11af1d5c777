"""What the notification job's last runs left: for /healthz, the dashboard and the webhook page."""

from ..extensions import db
from ..models import NotifyState
from . import webhooks
from .notify import STATE_MAIL


def mail_health() -> dict:
    """The mail part of the job's last run, for /healthz and the dashboard."""
    state = db.session.get(NotifyState, STATE_MAIL)
    if state is None:
        return {"ok": True, "last_run": None, "detail": "`portal notify run` has not run yet"}
    return {"ok": bool(state.ok), "last_run": f"{state.updated_at:%Y-%m-%dT%H:%M:%SZ}",
            "detail": state.detail}


def notify_health() -> dict:
    """The job's state: mail and webhook deliveries (problems are shown, not turned to 503)."""
    return {"mail": mail_health(), "webhooks": webhooks.delivery_health()}


def dashboard_problems() -> list[str]:
    """The job's problems as sentences for the dashboard's banner (none when all is well)."""
    health = notify_health()
    problems = []
    if not health["mail"]["ok"]:
        problems.append(f"Expiry warnings by e-mail: {health['mail']['detail']}")
    hooks = health["webhooks"]
    if not hooks["ok"]:
        problems.append(f"Webhooks: {hooks['retrying']} deliveries being retried, "
                        f"{hooks['failed']} given up ({hooks.get('last_error', '')}).")
    return problems
