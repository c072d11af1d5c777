"""The dashboard: the CAs and their CRLs, counts, expiry ahead and recent events."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from ..services import dashboard, notify_health
from .access import require_admin
from .charts import expiry_chart

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    """The admin's home page; people who are not admins go to their own page."""
    if current_user.is_authenticated and not current_user.is_admin:
        return redirect(url_for("auth.account"))
    refused = require_admin()
    if refused is not None:
        return refused
    overviews = dashboard.ca_overviews()
    days = dashboard.expiry_by_day()
    return render_template(
        "dashboard.html",
        overviews=overviews,
        problems=[o.state_problem for o in overviews if o.state_problem]
        + [o.crl_problem for o in overviews if o.crl_problem]
        + [f"The key of CA {o.ca.name} is unusable: {o.key_problem}"
           for o in overviews if not o.key_ok]
        + notify_health.dashboard_problems(),
        counts=dashboard.status_counts(),
        expiring_30=dashboard.expiring_count(30),
        expiring_90=sum(count for _day, count in days),
        chart=expiry_chart(days),
        events=dashboard.recent_events(),
    )
