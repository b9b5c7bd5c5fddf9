"""Compare the totals recomputed from the log with the totals a server publishes.

The published JSON is the contract of ``escrutinio results --format json``: the top
level carries ``units``, ``registered``, ``valid``, ``blank``, ``null``, ``emitted`` and
``choices``; with a level it also carries ``rows``, one per area, keyed by ``path``
(the full path of area names, coarse to fine, joined by " / ").

The log records every choice as published. Where the law counts votes for withdrawn
candidacies as null (Bolivia 2020), the published results leave those choices out of
``choices`` and add them to ``null``: the comparison does the same, and says so.
"""
from __future__ import annotations

from typing import Callable

from escrutinio.publication.totals import PATH_SEPARATOR, ContestTotals, Totals

FIELDS = ("units", "registered", "valid", "blank", "null", "emitted")

Fetch = Callable[[str, str, "str | None"], "dict | None"]


def _published_view(row: dict, published_choices: list[str] | None, withdrawn: list[str]) -> dict:
    """A log row (totals + choices) as the published results would show it."""
    out = {k: row.get(k, 0) for k in FIELDS}
    choices = dict(row["choices"])
    if withdrawn:
        moved = sum(choices.pop(c, 0) for c in withdrawn)
        out["null"] = out["null"] + moved
        out["valid"] = sum(choices.values())
    out["choices"] = choices
    return out


def _diff(where: str, mine: dict, theirs: dict) -> list[str]:
    out = []
    for k in FIELDS:
        if k in theirs and theirs[k] != mine[k]:
            out.append(f"{where}: {k} is {theirs[k]:,} published, {mine[k]:,} in the log")
    pub = theirs.get("choices") or {}
    for c in sorted(set(pub) | set(mine["choices"])):
        a, b = mine["choices"].get(c), pub.get(c)
        if a != b:
            out.append(f"{where}: {c} is {b if b is None else f'{b:,}'} published, "
                       f"{a if a is None else f'{a:,}'} in the log")
    return out


def _level_rows(t: ContestTotals, level: str) -> dict[str, dict]:
    rows = {}
    for r in t.by_level(level).iter_rows(named=True):
        rows[r["path"]] = {"units": r["units"], **{k: r.get(k, 0) for k in FIELDS[1:]},
                           "choices": {c: r[c] for c in t.choices}}
    return rows


def compare_totals(totals: Totals, fetch: Fetch, sources=("official", "copies"), max_lines: int = 20) -> list[dict]:
    """One comparison per (source, contest, level) ('country' total as level None).

    ``fetch(source, contest, level)`` returns the published results JSON, or None
    where the server publishes nothing (then the log must hold nothing either).
    Each comparison: {"source", "contest", "level", "ok", "areas", "differences", "note"}.
    """
    out: list[dict] = []
    for source in sources:
        for contest, t in totals.source(source).items():
            top = fetch(source, contest, None)
            if top is None:
                out.append({"source": source, "contest": contest, "level": None, "ok": False, "areas": 1,
                            "differences": [f"the server publishes no {source} results for {contest!r}, "
                                            f"but the log holds {t.total()['units']:,} actas"], "note": None})
                continue
            published = list((top.get("choices") or {}).keys())
            withdrawn = [c for c in t.choices if c not in published] if published else []
            note = (f"votes for {withdrawn} counted as null, as the published results do (withdrawn candidacies)"
                    if withdrawn else None)
            mine = _published_view(t.total(), published, withdrawn)
            diffs = _diff(f"{contest} total", mine, top)
            out.append({"source": source, "contest": contest, "level": None, "ok": not diffs, "areas": 1,
                        "differences": diffs[:max_lines], "note": note})
            pages = {lv: fetch(source, contest, lv) for lv in t.levels}
            # The log's payload keeps levels as an object, so their coarse-to-fine order
            # is taken from the published paths' depth where the server gives rows.
            depth = {lv: len(p["rows"][0]["path"].split(PATH_SEPARATOR)) for lv, p in pages.items()
                     if p and p.get("rows")}
            if len(depth) == len(t.levels) and sorted(depth.values()) == list(range(1, len(depth) + 1)):
                t = t.with_level_order(sorted(t.levels, key=depth.get))
            for lv in t.levels:
                page = pages[lv]
                if page is None or "rows" not in page:
                    out.append({"source": source, "contest": contest, "level": lv, "ok": False, "areas": 0,
                                "differences": [f"the server publishes no {source} results by {lv}"], "note": note})
                    continue
                mine_rows = _level_rows(t, lv)
                theirs = {r["path"]: r for r in page["rows"]}
                diffs = []
                for path in sorted(set(mine_rows) | set(theirs)):
                    if path not in theirs:
                        diffs.append(f"{lv} {path!r}: in the log ({mine_rows[path]['units']:,} actas), not published")
                    elif path not in mine_rows:
                        diffs.append(f"{lv} {path!r}: published ({theirs[path].get('units')} actas), not in the log")
                    else:
                        diffs.extend(_diff(f"{lv} {path!r}", _published_view(mine_rows[path], published, withdrawn),
                                           theirs[path]))
                out.append({"source": source, "contest": contest, "level": lv, "ok": not diffs,
                            "areas": len(mine_rows), "differences": diffs[:max_lines], "note": note})
    return out
