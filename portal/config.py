"""Configuration: safe defaults, then instance/config.py, then PORTAL_* environment variables."""

import os
from typing import Any

DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,  # read from instance/secret-key (made by `portal init`) when unset
    "SQLALCHEMY_DATABASE_URI": None,  # default: SQLite in the instance folder
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Sign-in sessions (kept in the database): they end after this many idle minutes, and this
    # many hours after sign-in whatever happens.
    "PORTAL_SESSION_IDLE_MINUTES": 60,
    "PORTAL_SESSION_LIFETIME_HOURS": 12,
    # The plain-HTTP base URL that certificates point at for the CRL and the CA certificate.
    "PORTAL_PUBLIC_URL": "http://localhost:8080",
    # The HTTPS base URL people open the portal at: enrollment links are written with it.
    "PORTAL_WEB_URL": "https://localhost:8443",
    # The secret that encrypts CA private keys; default: the file instance/ca-secret.
    "PORTAL_CA_SECRET": None,
    # Default and maximum validity (days) per profile.
    "PORTAL_SERVER_DAYS": 397,
    "PORTAL_CLIENT_DAYS": 365,
    "PORTAL_CA_DAYS": 1825,
    "PORTAL_ROOT_DAYS": 3650,
    "PORTAL_MAX_DAYS": 825,
    "PORTAL_MAX_CA_DAYS": 7300,
    # CRL lifetime: nextUpdate = thisUpdate + this many days; re-signed at half of it.
    "PORTAL_CRL_DAYS": 7,
    # `portal serve`: host names and addresses in its TLS certificate (issued by the default CA,
    # renewed when a third of its lifetime is left), and the proxies whose client-certificate
    # header is believed (addresses or networks, comma-separated; none by default).
    "PORTAL_SERVER_NAMES": "localhost,127.0.0.1,::1",
    "PORTAL_SERVER_CERT_DAYS": 90,
    "PORTAL_TRUSTED_PROXIES": "",
    # Validity of the client certificate `portal webserver-config` gives nginx or Apache.
    "PORTAL_PROXY_DAYS": 397,
    # An approved self-service request for a key made here can be downloaded for this long.
    "PORTAL_APPROVAL_DOWNLOAD_DAYS": 14,
    # Failed sign-ins allowed per client address, and per account (Flask-Limiter's notation).
    "PORTAL_LOGIN_LIMIT": "5 per minute",
    # The profiles a user's (not an admin's) API token may request, comma-separated.
    "PORTAL_API_USER_PROFILES": "client,server",
    # OCSP (RFC 6960/5019): each response is valid this long and re-signed at half of it (nginx's
    # ssl_ocsp_cache keeps a status until nextUpdate: this is how long a revocation can take to
    # bite there); the signer is each CA's delegated responder ("responder", its certificate
    # valid PORTAL_OCSP_DAYS and renewed at half) or the CA key ("ca"); certificates name the
    # responder in authorityInfoAccess unless PORTAL_OCSP_URL_IN_CERTS is off; `portal serve`
    # refreshes every PORTAL_OCSP_REFRESH_INTERVAL seconds (0: only `portal ocsp refresh`).
    "PORTAL_OCSP_RESPONSE_SECONDS": 3600,
    "PORTAL_OCSP_SIGNER": "responder",
    "PORTAL_OCSP_DAYS": 14,
    "PORTAL_OCSP_URL_IN_CERTS": True,
    "PORTAL_OCSP_REFRESH_INTERVAL": 300,
    # Languages (issue 18): the ones offered (comma-separated: en, ja, ko, zh_Hans) and the
    # one used when the reader's browser asks for none of them (and for mails to users who
    # never chose one).
    "PORTAL_LANGUAGES": "en,ja,ko,zh_Hans",
    "PORTAL_DEFAULT_LANGUAGE": "en",
    # Upper bounds for untrusted input.
    "PORTAL_MAX_CSR_BYTES": 64 * 1024,
    "PORTAL_MAX_SANS": 100,
    # Notifications (`portal notify run`, and every PORTAL_NOTIFY_INTERVAL seconds in `portal
    # serve`; 0: not in serve). SMTP: smtp://[user:password@]host[:port] or smtps://...
    "PORTAL_SMTP_URL": "",
    "PORTAL_SMTP_FROM": "portal@localhost",
    "PORTAL_SMTP_STARTTLS": True,  # smtp:// only: upgrade with STARTTLS (refuse if offered not)
    "PORTAL_SMTP_TIMEOUT": 30,
    "PORTAL_SMTP_CA_FILE": "",  # CA certificates (PEM) for the SMTP server; default: the system's
    "PORTAL_NOTIFY_DAYS": "30,14,7,3,1",  # warn this many days before notAfter
    "PORTAL_NOTIFY_INTERVAL": 300,
    # Certificates valid for under 14 days (ACME) are left to their automation, except these.
    "PORTAL_NOTIFY_SHORT_LIVED_PROFILES": "",
    "PORTAL_WEBHOOK_TIMEOUT": 10,  # seconds per connect, send or read
    "PORTAL_WEBHOOK_RETRY_SECONDS": 60,  # first retry delay, doubled after each failure
    "PORTAL_WEBHOOK_MAX_ATTEMPTS": 10,
    # PostgreSQL: audit events younger than this wait for the next run (see webhooks._settled)
    "PORTAL_WEBHOOK_SETTLE_SECONDS": 5,
    # ACME challenge validation (issue 15): the ports http-01 and tls-alpn-01 connect to, the
    # resolver for dns-01 (host:port; empty: the system's), name=address pairs used instead
    # of DNS for http-01 and tls-alpn-01 (comma-separated, as curl --resolve), and the
    # seconds one connection or lookup may take.
    "PORTAL_ACME_HTTP_PORT": 80,
    "PORTAL_ACME_TLS_PORT": 443,
    "PORTAL_ACME_DNS_SERVER": "",
    "PORTAL_ACME_RESOLVE": "",
    "PORTAL_ACME_TIMEOUT": 10,
}

# Environment variables whose name does not follow PORTAL_<config key>.
ENV_ALIASES = {
    "PORTAL_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "PORTAL_SECRET_KEY": "SECRET_KEY",
}


def _coerce(raw: str, default: Any) -> Any:
    """Convert an environment string to the type of the default it replaces."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def from_environment(environ: os._Environ | dict[str, str]) -> dict[str, Any]:
    """Return the settings given as PORTAL_* environment variables."""
    settings: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("PORTAL_") or name == "PORTAL_INSTANCE":
            continue
        key = ENV_ALIASES.get(name, name)
        if key not in DEFAULTS and name[len("PORTAL_"):] in DEFAULTS:
            key = name[len("PORTAL_"):]  # PORTAL_SESSION_COOKIE_SECURE -> SESSION_COOKIE_SECURE
        settings[key] = _coerce(raw, DEFAULTS.get(key))
    return settings


def sqlite_url(instance_path: str) -> str:
    """The default database: a SQLite file in the instance folder."""
    return "sqlite:///" + os.path.join(instance_path, "portal.sqlite3")


def engine_options(url: str, given: dict | None) -> dict:
    """SQLAlchemy engine options: a database server's pooled connections are checked first.

    After a PostgreSQL restart every pooled connection is dead; without `pool_pre_ping` each
    one failed one request with a 500 (AdminShutdown). SQLite has no server to lose, so it is
    spared the extra round trip per checkout.
    """
    options = dict(given or {})
    if not url.startswith("sqlite"):
        options.setdefault("pool_pre_ping", True)
    return options
