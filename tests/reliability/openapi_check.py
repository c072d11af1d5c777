"""Validate the API's responses against its own OpenAPI document (JSON Schema 2020-12)."""

import functools

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from portal.web.openapi import openapi_document

BASE = "urn:portal-openapi"


@functools.cache
def _registry() -> Registry:
    resource = Resource.from_contents(openapi_document(), default_specification=DRAFT202012)
    return Registry().with_resource(BASE, resource)


def response_schema(path: str, method: str, status: int) -> dict:
    """The documented schema of a response (an AssertionError when it is not documented)."""
    operation = openapi_document()["paths"][path][method.lower()]
    documented = operation["responses"]
    assert str(status) in documented, f"{method} {path} answered {status}, not documented"
    return documented[str(status)]["content"]["application/json"]["schema"]


def check(response, path: str, method: str) -> dict:
    """Assert that a test-client or requests response matches the OpenAPI document; its JSON."""
    status = response.status_code
    content_type = response.headers.get("Content-Type", "")
    assert content_type.startswith("application/json"), (status, content_type)
    body = response.json() if callable(response.json) else response.json
    schema = response_schema(path, method, status)
    if "$ref" in schema:
        schema = {"$ref": BASE + schema["$ref"]}
    validator = Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(body), key=lambda error: error.path)
    assert not errors, f"{method} {path} {status}: " + "; ".join(e.message for e in errors[:3])
    return body
