"""Language negotiation and locale-aware formatting for the pages (Babel).

The language comes, in order, from the ``lang`` query parameter, the ``escrutinio_lang``
cookie (set when the user switches), and the browser's Accept-Language; Spanish is the
fallback because most of the network's users read Spanish first. Every number and date
on a page goes through the formatters here, so that the live fragments and the first
render agree (2.889.359 and 47,08 % in Spanish; 2,889,359 and 47.08% in English).
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

LOCALES = ("es", "en")
DEFAULT_LOCALE = "es"
LANG_COOKIE = "escrutinio_lang"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGE_NAMES = {"es": "Español", "en": "English"}


def _known(tag: str | None) -> str | None:
    if not tag:
        return None
    try:
        lang = Locale.parse(tag.strip().replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        return None
    return lang if lang in LOCALES else None


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an Accept-Language header, best first (q=0 dropped)."""
    ranked = []
    for i, part in enumerate((header or "").split(",")):
        bits = part.strip().split(";")
        tag = bits[0].strip()
        if not tag or tag == "*":
            continue
        q = 1.0
        for b in bits[1:]:
            b = b.strip()
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, i, tag))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(query_lang: str | None, cookie_lang: str | None, accept_language: str | None) -> str:
    for candidate in (query_lang, cookie_lang):
        found = _known(candidate)
        if found:
            return found
    for tag in parse_accept_language(accept_language):
        found = _known(tag)
        if found:
            return found
    return DEFAULT_LOCALE


@lru_cache(maxsize=None)
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue; the English catalogue is the source language, so a missing
    .mo falls back to the msgids themselves."""
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


class Formatter:
    """Number, percentage and date formatting for one locale (Jinja filters use these)."""

    def __init__(self, locale: str):
        self.locale = locale
        pattern = Locale.parse(locale).percent_formats[None].pattern
        # Two decimals, keeping the locale's own spacing and sign position ("47,08 %" / "47.08%").
        self._pct = {0: pattern, 1: pattern.replace("#,##0", "#,##0.0", 1), 2: pattern.replace("#,##0", "#,##0.00", 1)}

    def num(self, value) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return str(value)          # never a 500 for a value that is not a number: show it as it is
        return format_decimal(value, locale=self.locale)

    def signed(self, value) -> str:
        if value is None:
            return "—"
        return format_decimal(value, format="+#,##0;−#,##0", locale=self.locale)

    def pct(self, points, digits: int = 2) -> str:
        """A percentage given in points (47.08 -> "47,08 %")."""
        if points is None:
            return "—"
        return format_percent(points / 100.0, format=self._pct[digits], locale=self.locale)

    def share(self, part, whole, digits: int = 2) -> str:
        if part is None or not whole:
            return "—"
        return self.pct(100.0 * part / whole, digits)

    def points(self, value, digits: int = 2) -> str:
        """Percentage points (a lead or a distance): a plain decimal, signed."""
        if value is None:
            return "—"
        fmt = "+#,##0.00;−#,##0.00" if digits == 2 else "+#,##0.0;−#,##0.0"
        return format_decimal(value, format=fmt, locale=self.locale)

    def decimal(self, value, digits: int = 2) -> str:
        if value is None:
            return "—"
        return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0", locale=self.locale)

    def when(self, value) -> str:
        if not value:
            return "—"
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return value
        return format_datetime(value, "medium", locale=self.locale)
