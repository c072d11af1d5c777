"""The text of the expiry warnings: what expires, when, and where to renew it.

Items are notify.Due values: serial, subject, CA, notAfter, threshold and certificate id. An
owner's mail gives each certificate two lines, the admins' digest one: a digest lists every
certificate of the run, and a mail server handles it line by line.

Each text is a msgid looked up in the recipient's catalogue (`babel.support` translations from
mail_language.py); without one the mail is the English it always was. Dates stay in ISO form
and UTC in every language: a mail is read anywhere, and often by scripts too.
"""

from babel.support import NullTranslations

from ..models import utcnow

ENGLISH = NullTranslations()


class ExpiryTexts:
    """Each certificate's "date UTC (in N days)" in one catalogue, made once per run.

    The plural form is looked up once per number of days, and each certificate's text once
    (its owner's mail and the digest share it): a run formats a thousand of each.
    """

    def __init__(self, t: NullTranslations = ENGLISH, now=None):
        self.now, self.t, self.forms, self.texts = now or utcnow(), t, {}, {}

    def __call__(self, item) -> str:
        """The text for this item (a notify.Due)."""
        text = self.texts.get(item.id)
        if text is None:
            days = max(0, (item.not_after - self.now).days)
            form = self.forms.get(days)
            if form is None:
                form = self.forms[days] = self.t.ngettext(
                    "%(date)s UTC (in %(num)d days)", "%(date)s UTC (in %(num)d days)", days)
            # isoformat: strftime costs ten times more
            text = self.texts[item.id] = form % {
                "date": item.not_after.isoformat(" ", "seconds")[:19], "num": days}
        return text


def owner_message(owner, items: list, base: str, t: NullTranslations = ENGLISH, *,
                  when: ExpiryTexts | None = None) -> tuple[str, str]:
    """Subject and body of the warning to one owner about their certificates.

    `when`: the run's ExpiryTexts in catalogue `t`, shared with its other mails.
    """
    if len(items) == 1:
        subject = t.gettext("Certificate %(serial)s expires on %(date)s") % {
            "serial": items[0].serial, "date": f"{items[0].not_after:%Y-%m-%d}"}
    else:
        subject = t.ngettext("%(num)d of your certificates expire soon",
                             "%(num)d of your certificates expire soon",
                             len(items)) % {"num": len(items)}
    when = when or ExpiryTexts(t)
    line = t.gettext("%(subject)s (serial %(serial)s, CA %(ca)s)\n  expires %(when)s: %(url)s\n")
    lines = [line % {"subject": item.subject, "serial": item.serial, "ca": item.ca,
                     "when": when(item),
                     "url": f"{base}/account/certificates/{item.id}"}
             for item in items]
    body = (t.gettext("Hello %(username)s,\n\nThese certificates of yours expire soon. Renew "
                      "each one from the portal:\nits link opens the certificate and its Renew "
                      "button.\n\n") % {"username": owner.username}
            + "".join(lines)
            + "\n" + t.gettext("This warning is sent once per certificate and threshold.\n"))
    return subject, body


def digest_message(items: list, base: str, t: NullTranslations = ENGLISH, *,
                   when: ExpiryTexts | None = None) -> tuple[str, str]:
    """Subject and body of the admins' digest of this run's warnings (`when`: as above)."""
    subject = t.ngettext("portal: %(num)d certificate(s) expire soon",
                         "portal: %(num)d certificate(s) expire soon",
                         len(items)) % {"num": len(items)}
    when = when or ExpiryTexts(t)
    line = t.gettext("%(when)s  %(subject)s  serial %(serial)s  CA %(ca)s  %(url)s\n")
    lines = [line % {"when": when(item), "subject": item.subject,
                     "serial": item.serial, "ca": item.ca,
                     "url": f"{base}/certificates/{item.id}"} for item in items]
    body = (t.gettext("Certificates warned about in this run, soonest first (owners were mailed "
                      "where\nthey have an address): expiry, subject, serial, CA and the "
                      "certificate's page.\n\n")
            + "".join(lines))
    return subject, body
