"""Small server-side SVG charts: no script, no inline style, nothing fetched from elsewhere."""

from datetime import date

from babel.dates import format_skeleton
from flask import has_request_context
from flask_babel import get_locale, ngettext
from markupsafe import Markup, escape

WIDTH, HEIGHT = 900, 180
TOP, BOTTOM, LEFT = 12, 24, 36


def _aria(count: int) -> str:
    return ngettext("Certificates expiring per day over the next %(num)d day",
                    "Certificates expiring per day over the next %(num)d days", count)


def _day(day: date, english: str, skeleton: str) -> str:
    """A day as the chart labels it: 'Mon 03 Mar' in English, the locale's own form elsewhere."""
    locale = get_locale() if has_request_context() else None
    if locale is None or str(locale) == "en":
        return day.strftime(english)
    return format_skeleton(skeleton, day, locale=locale)


def expiry_chart(days: list[tuple[date, int]]) -> Markup:
    """Bars of certificates expiring per day, with a label every two weeks and a tooltip each."""
    if not days:
        return Markup("")
    peak = max(count for _day, count in days) or 1
    plot_height = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT) / len(days)
    bar = max(step - 2, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(_aria(len(days)))}" '
        'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" '
        f'y2="{HEIGHT - BOTTOM}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{HEIGHT - BOTTOM}" text-anchor="end">0</text>',
    ]
    for index, (day, count) in enumerate(days):
        x = LEFT + index * step + 1
        height = plot_height * count / peak
        y = HEIGHT - BOTTOM - height
        label = ngettext("%(day)s: %(num)d certificate", "%(day)s: %(num)d certificates",
                         count, day=_day(day, "%a %d %b", "MMMEd"))
        shape = (
            f'<rect class="bar{" bar-soon" if index < 14 else ""}" x="{x:.1f}" y="{y:.1f}" '
            f'width="{bar:.1f}" height="{max(height, 0):.1f}" rx="1"><title>{escape(label)}'
            "</title></rect>"
        )
        parts.append(shape)
        # an invisible full-height target so that empty days show their tooltip too
        parts.append(
            f'<rect class="hit" x="{x:.1f}" y="{TOP}" width="{bar:.1f}" height="{plot_height}">'
            f"<title>{escape(label)}</title></rect>"
        )
        if index % 14 == 0:
            tick = escape(_day(day, "%d %b", "MMMd"))
            parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 6}">{tick}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
