"""Stable party colours: one colour per choice NAME, the same on every page, report and
chart, whatever the choice's rank.

Colours that follow rank swap when the lead changes on election night (the leader was
always blue); a reader who has learnt "MAS is orange" at 23:28 must still find MAS orange
at 12:38. So a choice keeps its colour for as long as the set of choices is the same
(every export of one election), and keeps it across contests where the name recurs.

Declared colours (``colours = {NAME = "#rrggbb"}`` in a mapping or law file, passed here
as ``declared``) win; every other choice gets a colour from a fixed palette chosen by a
hash of its name (not Python's ``hash``, which changes between processes), the next free
one on a collision, in the names' sorted order so that the assignment does not depend on
the order the choices arrive in.

The palette is Okabe and Ito's (2008) colour-blind-safe set, darkened where needed so
that each colour keeps 3:1 contrast against a white page (WCAG 2.1, non-text contrast),
followed by a few more from Paul Tol's "muted" scheme, also colour-blind safe.
"""
from __future__ import annotations

import re
import tomllib
import zlib
from collections.abc import Iterable, Mapping
from functools import lru_cache

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8F7A00", "#56B4E9", "#E69F00", "#6A3D9A",
           "#882255", "#117733", "#332288", "#AA4499")
OTHER_COLOUR = "#595959"
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


def _key(name: str) -> str:
    """MAS-IPSP, MAS_IPSP and "mas ipsp" are the same party in different files."""
    return re.sub(r"[^0-9a-z]+", "", str(name).casefold())


def choice_colours(choices: Iterable[str], declared: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{choice: "#rrggbb"}`` for every choice, by name, never by rank."""
    names = list(dict.fromkeys(str(c) for c in choices))
    out: dict[str, str] = {}
    taken: set[str] = set()
    declared_by_key = {_key(k): v for k, v in (declared or {}).items() if isinstance(v, str) and _HEX.match(v)}
    for name in names:
        colour = declared_by_key.get(_key(name))
        if colour:
            out[name] = colour.upper()
            taken.add(colour.upper())
    free = [c for c in PALETTE if c not in taken]
    for name in sorted((n for n in names if n not in out), key=_key):
        if not free:
            out[name] = OTHER_COLOUR
            continue
        slots = [c for c in PALETTE if c in free]
        start = zlib.crc32(_key(name).encode("utf-8")) % len(PALETTE)
        # the name's own colour when free, else the next free one round the palette
        for step in range(len(PALETTE)):
            candidate = PALETTE[(start + step) % len(PALETTE)]
            if candidate in slots:
                out[name] = candidate
                free.remove(candidate)
                break
    return {name: out[name] for name in names}


def colour_of(name: str, choices: Iterable[str], declared: Mapping[str, str] | None = None) -> str:
    return choice_colours(choices, declared).get(str(name), OTHER_COLOUR)


@lru_cache(maxsize=32)
def _declared_for(election: str) -> tuple[tuple[str, str], ...]:
    from importlib import resources

    out: dict[str, str] = {}
    for entry in sorted(resources.files("escrutinio.mappings").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        try:
            doc = tomllib.loads(entry.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        if (doc.get("election") or {}).get("name") == election and isinstance(doc.get("colours"), dict):
            out.update({str(k): v for k, v in doc["colours"].items() if isinstance(v, str) and _HEX.match(v)})
    return tuple(out.items())


def declared_colours(election: str | None) -> dict[str, str]:
    """The colours a bundled mapping declares (its ``[colours]`` table) for the election of
    that name ("Bolivia 2020"); empty when none does."""
    return dict(_declared_for(election)) if election else {}
