"""Export times: from file names, from a column, or given explicitly.

Why this module exists: one of the documented errors in the analysis of Bolivia's 2019
count (Idrobo, Kronick & Rodríguez, J. Politics 84(4), 2022) was ordering timestamps
written on a 12-hour clock as text, so that "1:05 PM" sorted before "11:50 AM". Every
time that decides an order here is parsed to a :class:`datetime` first and ordered as
such, never as text.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Iterable, Sequence

from escrutinio.errors import InputError, UsageError

# file-name stamps seen in the bundled data (computo_20201018T213655, trep_2019-10-20T19-40-57)
# plus the common variants; the first that matches wins.
_NAME_PATTERNS = (
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})[T_\-]?(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})"),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})[T_ ](?P<H>\d{2})[-:.h](?P<M>\d{2})(?:[-:.m](?P<S>\d{2}))?"),
    re.compile(r"(?P<y>\d{4})\.(?P<m>\d{2})\.(?P<d>\d{2})\.(?P<H>\d{2})\.(?P<M>\d{2})\.(?P<S>\d{2})"),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"),
)

_TEXT_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y",
)
_TEXT_FORMATS_12H = (
    "%Y-%m-%d %I:%M:%S %p",
    "%Y-%m-%d %I:%M %p",
    "%d/%m/%Y %I:%M:%S %p",
    "%d/%m/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%I:%M:%S %p",
    "%I:%M %p",
)
# Spanish and dotted meridiem spellings -> AM/PM
_MERIDIEM = (
    (re.compile(r"\b(a\.?\s?m\.?|a\.\s?m\.)(?=\s|$)", re.I), "AM"),
    (re.compile(r"\b(p\.?\s?m\.?|p\.\s?m\.)(?=\s|$)", re.I), "PM"),
)


def from_filename(path: str | Path) -> datetime | None:
    """The export time written in a file name, or None when the name carries none."""
    name = Path(str(path)).name
    for pattern in _NAME_PATTERNS:
        m = pattern.search(name)
        if not m:
            continue
        g = m.groupdict()
        try:
            return datetime(
                int(g["y"]), int(g["m"]), int(g["d"]),
                int(g.get("H") or 0), int(g.get("M") or 0), int(g.get("S") or 0),
            )
        except ValueError:
            continue
    return None


def parse_time(text: str | datetime, *, default_date: datetime | None = None) -> datetime:
    """Parse one timestamp, 24- or 12-hour clock (``AM``/``PM``, ``a.m.``, ``p. m.``).

    12:xx AM is just after midnight and 12:xx PM just after noon, as on any 12-hour clock.
    A time without a date takes the date of ``default_date``.
    """
    if isinstance(text, datetime):
        return text
    raw = str(text).strip()
    if not raw:
        raise ValueError("empty timestamp")
    s = raw
    for pattern, repl in _MERIDIEM:
        s = pattern.sub(repl, s)
    s = re.sub(r"\s+", " ", s).strip()
    has_meridiem = bool(re.search(r"\b(AM|PM)$", s, re.I))
    formats = _TEXT_FORMATS_12H if has_meridiem else _TEXT_FORMATS
    if has_meridiem:
        s = s[:-2].rstrip() + " " + s[-2:].upper()
    for fmt in formats:
        try:
            parsed = datetime.strptime(s, fmt)
        except ValueError:
            continue
        if "%Y" not in fmt:
            if default_date is None:
                raise ValueError(f"timestamp {raw!r} has no date and no default date was given")
            parsed = parsed.replace(year=default_date.year, month=default_date.month, day=default_date.day)
        return parsed
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        pass
    named = from_filename(s)
    if named is not None:
        return named
    raise ValueError(f"cannot read {raw!r} as a date and time")


def parse_times(values: Iterable[str], *, source: str = "<times>", default_date: datetime | None = None) -> list[datetime]:
    """Parse many timestamps; a value that cannot be read is an error naming its position."""
    out = []
    for i, v in enumerate(values, start=1):
        try:
            out.append(parse_time(v, default_date=default_date))
        except ValueError as exc:
            raise InputError(source, str(exc), row=i) from None
    return out


def resolve_times(
    paths: Sequence[str | Path], explicit: dict[str, str | datetime] | None = None
) -> list[datetime | None]:
    """Export time for each path: an explicit mapping first (keyed by path or file name),
    then the file name. None when neither says."""
    explicit = explicit or {}
    out: list[datetime | None] = []
    for p in paths:
        key_full, key_name = str(p), Path(str(p)).name
        if key_full in explicit or key_name in explicit:
            value = explicit.get(key_full, explicit.get(key_name))
            try:
                out.append(parse_time(value))
            except ValueError as exc:
                raise UsageError(f"time given for {key_name}: {exc}") from None
        else:
            out.append(from_filename(p))
    return out


def order_by_time(times: Sequence[datetime | None]) -> list[int]:
    """Indices that sort by time (parsed, never text); undated items last, in given order."""
    return sorted(range(len(times)), key=lambda i: (times[i] is None, times[i] or datetime.min, i))
