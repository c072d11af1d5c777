"""The text of the expiry warnings: what expires, when, and where to renew it.

Items are notify.Due values: serial, subject, CA, notAfter, threshold and certificate id. An
owner's mail gives each certificate two lines, the admins' digest one: a digest lists every
certificate of the run, and a mail server handles it line by line.
"""

from ..models import utcnow


def _when(item, now) -> str:
    days = max(0, (item.not_after - now).days)
    # isoformat: strftime costs ten times more, and a digest formats a thousand dates
    return f"{item.not_after.isoformat(' ', 'seconds')[:19]} UTC (in {days} days)"


def owner_message(owner, items: list, base: str) -> tuple[str, str]:
    """Subject and body of the warning to one owner about their certificates."""
    if len(items) == 1:
        subject = (f"Certificate {items[0].serial} expires on "
                   f"{items[0].not_after:%Y-%m-%d}")
    else:
        subject = f"{len(items)} of your certificates expire soon"
    now = utcnow()
    lines = [f"{item.subject} (serial {item.serial}, CA {item.ca})\n"
             f"  expires {_when(item, now)}: {base}/account/certificates/{item.id}\n"
             for item in items]
    body = (f"Hello {owner.username},\n\nThese certificates of yours expire soon. Renew each "
            "one from the portal:\nits link opens the certificate and its Renew button.\n\n"
            + "".join(lines)
            + "\nThis warning is sent once per certificate and threshold.\n")
    return subject, body


def digest_message(items: list, base: str) -> tuple[str, str]:
    """Subject and body of the admins' digest of this run's warnings."""
    subject = f"portal: {len(items)} certificate(s) expire soon"
    now = utcnow()
    lines = [f"{_when(item, now)}  {item.subject}  serial {item.serial}  CA {item.ca}  "
             f"{base}/certificates/{item.id}\n" for item in items]
    body = ("Certificates warned about in this run, soonest first (owners were mailed where\n"
            "they have an address): expiry, subject, serial, CA and the certificate's page.\n\n"
            + "".join(lines))
    return subject, body
