"""The OpenAPI 3.1 description of the JSON API, served at /api/v1/openapi.json.

Its schemas are plain JSON Schema (2020-12), so the tests validate every response the API gives
against the schema written here: the description cannot drift from the behaviour unnoticed.
"""

import functools

NULLABLE_STRING = {"type": ["string", "null"]}
DATE_TIME = {"type": "string", "format": "date-time", "pattern": "^[0-9T:-]+Z$"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
SERIAL = {"type": "string", "pattern": "^([0-9A-F]{2})+$", "maxLength": 42,
          "description": "Upper-case hex, as `openssl x509 -serial` prints it."}
REASONS = ["unspecified", "keyCompromise", "CACompromise", "affiliationChanged", "superseded",
           "cessationOfOperation", "privilegeWithdrawn"]

CERTIFICATE_FIELDS = {
    "serial": SERIAL,
    "status": {"type": "string", "enum": ["pending", "issued", "revoked"],
               "description": "pending: the row was recorded but nothing was signed (an "
                              "interrupted issuance); revoke it to close it."},
    "profile": {"type": "string", "enum": ["client", "server", "ca"]},
    "ca": {"type": "string", "description": "Name of the issuing CA."},
    "subject": {"type": "string", "description": "RFC 4514 text."},
    "common_name": NULLABLE_STRING,
    "sans": {"type": "array", "items": {"type": "string"},
             "description": "As openssl shows them: DNS:x, IP:x, email:x."},
    "key_type": {"type": "string"},
    "not_before": DATE_TIME,
    "not_after": DATE_TIME,
    "revoked_at": NULLABLE_DATE_TIME,
    "revocation_reason": {"type": ["string", "null"], "enum": [*REASONS, None]},
    "fingerprint_sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
    "owner": NULLABLE_STRING,
    "url": {"type": "string", "description": "This certificate in the API."},
}
SUMMARY = {
    "type": "object",
    "required": list(CERTIFICATE_FIELDS),
    "additionalProperties": False,
    "properties": CERTIFICATE_FIELDS,
}
CERTIFICATE = {
    "type": "object",
    "required": [*CERTIFICATE_FIELDS, "certificate"],
    "additionalProperties": False,
    "properties": {
        **CERTIFICATE_FIELDS,
        "certificate": {
            "type": ["string", "null"],
            "pattern": "^-----BEGIN CERTIFICATE-----\n",
            "description": "PEM; null while the row is pending.",
        },
        "validity": {
            "type": "object",
            "description": "In the answer to an issuance only: the validity signed, and why "
                           "it is shorter than requested when it is.",
            "required": ["requested_days", "days", "capped", "note"],
            "additionalProperties": False,
            "properties": {
                "requested_days": {"type": ["integer", "null"]},
                "days": {"type": "integer", "minimum": 0},
                "capped": {"type": "boolean",
                           "description": "true: capped at PORTAL_MAX_DAYS or at the CA's end."},
                "note": NULLABLE_STRING,
            },
        },
    },
}
ERROR = {
    "type": "object",
    "required": ["status", "message", "field"],
    "additionalProperties": False,
    "properties": {
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "message": {"type": "string", "minLength": 1},
        "field": {"type": ["string", "null"],
                  "description": "The request field the error concerns, if any."},
    },
}
PAGE = {
    "type": "object",
    "required": ["items", "count", "count_capped", "next_cursor", "next"],
    "additionalProperties": False,
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/CertificateSummary"}},
        "count": {"type": "integer", "minimum": 0, "maximum": 1000},
        "count_capped": {"type": "boolean",
                         "description": "true: more than 1000 match; count says 1000."},
        "next_cursor": NULLABLE_STRING,
        "next": {"type": ["string", "null"], "description": "The next page's URL."},
    },
}
ISSUE_REQUEST = {
    "type": "object",
    "required": ["csr", "profile"],
    "additionalProperties": False,
    "properties": {
        "csr": {"type": "string", "description": "The CSR as PEM (at most 64 KB)."},
        "profile": {"type": "string", "enum": ["client", "server"]},
        "ca": {"type": "string", "description": "Issuing CA (default: the default CA)."},
        "days": {"type": "integer", "minimum": 1, "maximum": 20000,
                 "description": "Validity; capped by the portal's configuration."},
    },
}
REVOKE_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": {
        "type": "string", "enum": REASONS,
        "description": "An admin's token may give any reason. A user's token must give one of "
                       "keyCompromise, superseded, cessationOfOperation (as on the pages): "
                       "anything else is a 400 with field 'reason'."}},
}


def _error_response(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(ref: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


ERRORS = {
    "400": _error_response("Malformed request or refused input (bad CSR, weak key, bad name)."),
    "401": _error_response("No bearer token, or an unknown or revoked one."),
    "404": _error_response("No such certificate, or not one of yours."),
    "409": _error_response("Conflicts with the current state (already revoked, ambiguous)."),
    "413": _error_response("The body is larger than 256 KB."),
    "500": _error_response("Internal error; nothing was changed."),
}
SERIAL_PARAMETER = {"name": "serial", "in": "path", "required": True,
                    "schema": {"type": "string", "maxLength": 64},
                    "description": "The serial in hex (colons, spaces and 0x are accepted)."}
CA_PARAMETER = {"name": "ca", "in": "query", "required": False, "schema": {"type": "string"},
                "description": "The CA, when the serial exists under several."}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


@functools.cache
def openapi_document() -> dict:
    """The OpenAPI document (built once per process)."""
    pick = {key: ERRORS[key] for key in ("400", "401", "404", "409", "500")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "portal certificate API",
            "version": "1",
            "description": "Issue, find and revoke certificates. Authenticate with "
                           "`Authorization: Bearer <token>` (`portal token create USER`). "
                           "An admin's token sees every certificate; a user's token only that "
                           "user's own (others are 404), and issues under the profile's "
                           "self-service policy (names, and whether an admin approves first: "
                           "202).",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/certificates": {
                "post": {
                    "operationId": "issueCertificate",
                    "summary": "Issue a certificate from a CSR",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/IssueRequest"}}}},
                    "responses": {
                        "201": {**_json("Certificate", "Issued; the row is committed."),
                                "headers": {"Location": {"schema": {"type": "string"}}}},
                        "202": _json("PendingRequest",
                                     "A user's token, and the profile's policy waits for an "
                                     "admin: the request is recorded, nothing is issued yet."),
                        "403": _error_response("Your account may not request this profile."),
                        "415": _error_response("The body is not application/json."),
                        "503": _error_response("The CA key is unavailable (no CA secret)."),
                        **{key: ERRORS[key] for key in ("400", "401", "404", "413", "500")},
                    },
                },
                "get": {
                    "operationId": "searchCertificates",
                    "summary": "Search certificates, a page at a time",
                    "parameters": [
                        _query("q", {"type": "string", "maxLength": 200},
                               "Common name, SAN or user name prefix; a serial or its first "
                               "digits (any notation, or `2A0275…C0F0`); `DNS:x`, `IP:x`, "
                               "`email:x` prefixes."),
                        _query("status", {"type": "string",
                                          "enum": ["pending", "issued", "revoked"]}, "Status."),
                        _query("profile", {"type": "string",
                                           "enum": ["client", "server", "ca"]},
                               "Profile (ca: intermediate CAs the portal issued)."),
                        _query("ca", {"type": "string"}, "Issuing CA name."),
                        _query("expiring", {"type": "integer", "minimum": 1, "maximum": 3650},
                               "Issued and expiring within this many days."),
                        _query("sort", {"type": "string",
                                        "enum": ["newest", "oldest", "expires", "-expires"]},
                               "Order (default newest)."),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200},
                               "Page size (default 50)."),
                        _query("after", {"type": "string", "maxLength": 64},
                               "next_cursor of the previous page."),
                    ],
                    "responses": {"200": _json("CertificatePage", "One page."),
                                  **{key: ERRORS[key] for key in ("400", "401", "500")}},
                },
            },
            "/certificates/{serial}": {
                "get": {
                    "operationId": "getCertificate",
                    "summary": "One certificate, with its PEM",
                    "parameters": [SERIAL_PARAMETER, CA_PARAMETER],
                    "responses": {"200": _json("Certificate", "The certificate."), **pick},
                },
            },
            "/certificates/{serial}/revoke": {
                "post": {
                    "operationId": "revokeCertificate",
                    "summary": "Revoke a certificate (pending ones too)",
                    "parameters": [SERIAL_PARAMETER, CA_PARAMETER],
                    "requestBody": {"required": False, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/RevokeRequest"}}}},
                    "responses": {
                        "200": _json("Certificate", "Revoked; the CRL already lists it."),
                        "415": _error_response("The body is not application/json."),
                        **pick,
                    },
                },
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This description",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {
                        "application/json": {"schema": {"type": "object"}}}}},
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "PendingRequest": {
                    "type": "object",
                    "required": ["request", "status", "profile", "subject", "message"],
                    "properties": {
                        "request": {"type": "integer"},
                        "status": {"type": "string", "enum": ["pending"]},
                        "profile": {"type": "string"},
                        "subject": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
                "Certificate": CERTIFICATE,
                "CertificateSummary": SUMMARY,
                "CertificatePage": PAGE,
                "IssueRequest": ISSUE_REQUEST,
                "RevokeRequest": REVOKE_REQUEST,
                "Error": ERROR,
            },
        },
    }
