"""/healthz for load balancers and monitors, /metrics for Prometheus."""

from flask import Blueprint, Response, jsonify

from ..services import cache
from ..services.health import PortalCollector, health_report

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """JSON: database, CA keys, CRL ages; 503 when something needs an administrator."""
    report, ok = health_report()
    response = jsonify(report)
    response.status_code = 200 if ok else 503
    response.cache_control.no_store = True
    return response


def _registry():
    from prometheus_client import CollectorRegistry  # on first scrape: commands never need it

    registry = CollectorRegistry(auto_describe=False)
    registry.register(PortalCollector())
    return registry


@bp.get("/metrics")
def metrics():
    """Prometheus text format, computed from the database at scrape time."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    registry = cache.process_cache().value("health.metrics", _registry)
    response = Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response.cache_control.no_store = True
    return response
