"""The languages the portal speaks, and the settings that choose them (no Flask here)."""

from .errors import ConfigurationError
from .translatable import N_

SUPPORTED = ("en", "ja", "ko", "zh_Hans")
_SPELLINGS = {name.lower().replace("_", "-"): name for name in SUPPORTED}


def normalise_language(text: str) -> str | None:
    """'zh-Hans', 'zh_hans' or 'ZH-HANS' -> 'zh_Hans'; None for a language not supported."""
    return _SPELLINGS.get(text.strip().lower().replace("_", "-"))


def parse_languages(raw: str | list | tuple, default: str) -> tuple[list[str], str]:
    """PORTAL_LANGUAGES and PORTAL_DEFAULT_LANGUAGE checked: the offered list and the default."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    offered: list[str] = []
    for item in (str(item) for item in items):
        if not item.strip():
            continue
        name = normalise_language(item)
        if name is None:
            raise ConfigurationError(
                N_("PORTAL_LANGUAGES: %(value)r is not one of %(values)s"),
                value=item.strip(), values=', '.join(SUPPORTED)
            )
        if name not in offered:
            offered.append(name)
    if not offered:
        raise ConfigurationError(N_("PORTAL_LANGUAGES names no language"))
    chosen = normalise_language(str(default or ""))
    if chosen is None or chosen not in offered:
        raise ConfigurationError(
            N_("PORTAL_DEFAULT_LANGUAGE %(default)r must be one of PORTAL_LANGUAGES (%(values)s)"),
            default=default, values=', '.join(offered)
        )
    return offered, chosen
