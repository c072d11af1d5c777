"""The ACME protocol's pure parts (RFC 8555): JWS checks, problems, identifiers, validators.

Nothing here reads the database or imports Flask: the use cases are `portal/services/acme_*`,
the HTTP resources `portal/web/acme.py`.
"""
