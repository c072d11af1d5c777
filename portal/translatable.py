"""`N_`: marks a message for extraction without translating it (no Flask, no Babel here).

Services and the CA core raise typed errors whose message is an untranslated msgid with
named placeholders; the web layer looks it up in the reader's language (portal/web/i18n.py),
the CLI and the logs print it in English.
"""


def N_(message: str) -> str:  # noqa: N802  (the gettext convention)
    """Return `message` unchanged: pybabel extracts it, the web layer translates it."""
    return message


class Message(str):
    """A sentence for people that a service hands to the web layer, in English and by msgid.

    It is a str (the English text), so the CLI, logs and existing callers are unchanged; its
    msgid and parameters let a page show it in the reader's language (portal/web/i18n.py
    translates every Message a template prints).
    """

    msgid: str
    params: dict

    def __new__(cls, msgid: str, **params):
        """`Message(N_("CA %(name)s has expired"), name=...)`."""
        text = msgid % params if params else msgid
        value = super().__new__(cls, text)
        value.msgid, value.params = msgid, params
        return value

    @classmethod
    def join(cls, separator: str, parts: list) -> "Message":
        """Parts joined with `separator` (each part translated on its own)."""
        names = {f"part{index}": part for index, part in enumerate(parts)}
        msgid = separator.replace("%", "%%").join(f"%({name})s" for name in names)
        return cls(msgid, **names)
