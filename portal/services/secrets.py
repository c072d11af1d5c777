"""The secrets kept outside the database: the CA key secret and the session key."""

import os

from flask import current_app

from ..ca.keystore import new_secret

CA_SECRET_FILE = "ca-secret"
SESSION_KEY_FILE = "secret-key"


def ca_secret() -> str | None:
    """The CA secret from PORTAL_CA_SECRET or instance/ca-secret, or None when neither is set."""
    configured = current_app.config.get("PORTAL_CA_SECRET")
    if configured:
        return configured
    path = os.path.join(current_app.instance_path, CA_SECRET_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def ensure_instance_secrets() -> list[str]:
    """Create the instance folder (0700) and missing secret files (0600); return what was made."""
    instance = current_app.instance_path
    os.makedirs(instance, mode=0o700, exist_ok=True)
    # The folder also holds the database (password hashes, sealed keys), which SQLite creates
    # with the umask's mode; a folder that came with a checkout is 0755: close it.
    if os.stat(instance).st_mode & 0o077:
        os.chmod(instance, 0o700)
    made = []
    wanted = [SESSION_KEY_FILE]
    if not current_app.config.get("PORTAL_CA_SECRET"):
        wanted.append(CA_SECRET_FILE)
    for name in wanted:
        path = os.path.join(instance, name)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(new_secret() + "\n")
        made.append(path)
    return made
