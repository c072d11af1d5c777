"""The response for an export: streamed, downloaded as a file, never cached."""

from collections.abc import Iterable
from datetime import UTC, datetime

from flask import Response, stream_with_context

from ..services import export


def export_response(records: Iterable[dict], fields: tuple[str, ...], fmt: str,
                    name: str) -> Response:
    """Stream records as CSV or JSON, as an attachment named `<name>-<UTC time>.<fmt>`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response = Response(stream_with_context(export.render(records, fields, fmt)),
                        content_type=export.FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.no_store = True
    return response
