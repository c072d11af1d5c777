"""The text of the expiry warnings: what expires, when, and where to renew it.

Items are notify.Due values: serial, subject, CA, notAfter, threshold and certificate id.
"""

from ..models import utcnow


def _describe(item, link: str) -> str:
    days = max(0, (item.not_after - utcnow()).days)
    return (f"  {item.subject}\n"
            f"    serial {item.serial}, issued by CA {item.ca}\n"
            f"    expires {item.not_after:%Y-%m-%d %H:%M:%S} UTC (in {days} days)\n"
            f"    renew: {link}\n")


def _links(base: str, item, *, admin: bool) -> str:
    path = "certificates" if admin else "account/certificates"
    return f"{base}/{path}/{item.id}"


def owner_message(owner, items: list, base: str) -> tuple[str, str]:
    """Subject and body of the warning to one owner about their certificates."""
    if len(items) == 1:
        subject = (f"Certificate {items[0].serial} expires on "
                   f"{items[0].not_after:%Y-%m-%d}")
    else:
        subject = f"{len(items)} of your certificates expire soon"
    body = (f"Hello {owner.username},\n\nThese certificates of yours expire soon. Renew them "
            "from the portal (the link opens the certificate and its Renew button):\n\n"
            + "\n".join(_describe(item, _links(base, item, admin=False)) for item in items)
            + "\nThis warning is sent once per certificate and threshold.\n")
    return subject, body


def digest_message(items: list, base: str) -> tuple[str, str]:
    """Subject and body of the admins' digest of this run's warnings."""
    subject = f"portal: {len(items)} certificate(s) expire soon"
    body = ("Certificates warned about in this run (owners were mailed where they have an "
            "address):\n\n"
            + "\n".join(_describe(item, _links(base, item, admin=True)) for item in items))
    return subject, body
