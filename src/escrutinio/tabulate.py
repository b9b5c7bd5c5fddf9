"""Totals and shares at any geographic level, for any filter.

Areas are identified by their full path (country / department / ...), never by a bare
name: Bolivia 2019 has both a Bolivian department and an Argentine province named Santa
Cruz. Totals are exact integer sums over whole columns (Polars); shares are derived from
them only for display.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping, Sequence

import polars as pl

from escrutinio.errors import UsageError
from escrutinio.law.presidential import PresidentialRule, Verdict
from escrutinio.model import Snapshot

TOTAL_KEYS = ("registered", "valid", "blank", "null", "emitted")
PATH_SEPARATOR = " / "


@dataclass
class Tabulation:
    snapshot: Snapshot
    filters: dict[str, str]
    units: int
    totals: dict[str, int]
    choices: dict[str, int]
    share_base: str
    verdict: Verdict | None = None
    level: str | None = None
    rows: pl.DataFrame | None = None
    progress: dict | None = None
    flagged: dict | None = None
    notes: list[str] = field(default_factory=list)

    def share(self, choice: str) -> Fraction:
        base = self.totals[self.share_base]
        return Fraction(self.choices[choice], base) if base else Fraction(0)

    def shares(self) -> dict[str, float]:
        return {c: float(self.share(c) * 100) for c in self.choices}

    def rates(self) -> dict[str, float | None]:
        t = self.totals
        return {
            "turnout": 100 * t["emitted"] / t["registered"] if t["registered"] else None,
            "blank_rate": 100 * t["blank"] / t["emitted"] if t["emitted"] else None,
            "null_rate": 100 * t["null"] / t["emitted"] if t["emitted"] else None,
        }

    def to_dict(self) -> dict:
        out = {
            "election": self.snapshot.election,
            "contest": self.snapshot.contest,
            "snapshot": self.snapshot.name,
            "exported_at": self.snapshot.exported_at.isoformat() if self.snapshot.exported_at else None,
            "filters": self.filters,
            "units": self.units,
            **self.totals,
            "choices": self.choices,
            "shares": {c: round(v, 2) for c, v in self.shares().items()},
            "share_base": self.share_base,
            **{k: (round(v, 2) if v is not None else None) for k, v in self.rates().items()},
            "withdrawn_rule": self.snapshot.withdrawn_rule and bool(self.snapshot.withdrawn),
            "verdict": self.verdict.to_dict() if self.verdict else None,
        }
        if self.progress:
            out["progress"] = self.progress
        if self.flagged is not None:
            out["flagged"] = self.flagged
        if self.notes:
            out["notes"] = self.notes
        if self.rows is not None:
            out["level"] = self.level
            out["rows"] = rows_to_dicts(self.rows, list(self.choices), self.share_base)
        return out

    def summary(self) -> str:
        s = self.snapshot
        lines = [f"{s.election} · {s.contest} · {s.name}"]
        if self.filters:
            lines.append("filter: " + ", ".join(f"{k}={v}" for k, v in self.filters.items()))
        t = self.totals
        r = self.rates()
        lines.append(
            f"tables {self.units:,}   registered {t['registered']:,}   emitted {t['emitted']:,}"
            + (f" (turnout {r['turnout']:.2f}%)" if r["turnout"] is not None else "")
        )
        lines.append(f"valid {t['valid']:,}   blank {t['blank']:,}   null {t['null']:,}")
        if self.progress:
            p = self.progress
            lines.append(f"progress: {p['counted_units']:,} of {p['expected_units']:,} tables ({p['units_pct']:.2f}%), "
                         f"{p['registered_pct']:.2f}% of registered voters")
        width = max((len(c) for c in self.choices), default=5)
        shares = self.shares()
        for c, v in sorted(self.choices.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {c:<{width}}  {v:>12,}  {shares[c]:6.2f}%")
        if self.flagged:
            lines.append(f"flagged actas: {self.flagged['units']:,} holding {self.flagged['emitted']:,} ballots "
                         "(counted as published; see `escrutinio check`)")
        if self.verdict:
            lines.append(self.verdict.summary())
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)


def rows_to_dicts(rows: pl.DataFrame, choices: list[str], share_base: str) -> list[dict]:
    out = []
    for r in rows.iter_rows(named=True):
        base = r[share_base]
        d = {
            "area": r["area"],
            "path": r["path"],
            "units": r["units"],
            **{k: r[k] for k in TOTAL_KEYS},
            "choices": {c: r[c] for c in choices},
            "shares": {c: (round(100 * r[c] / base, 2) if base else None) for c in choices},
        }
        if "verdict" in r:
            d["verdict"] = r["verdict"]
        out.append(d)
    return out


def apply_filters(snapshot: Snapshot, filters: Mapping[str, str] | None) -> pl.DataFrame:
    """Filter the counted frame by ``{level: value}``. A value may be a full path
    ("Bolivia / Santa Cruz"); a bare name that matches areas under different parents is
    refused as ambiguous rather than silently merged."""
    frame = snapshot.counted()
    if not filters:
        return frame
    levels = list(snapshot.levels) + list(snapshot.attributes)
    for key, value in filters.items():
        if key not in levels:
            raise UsageError(f"cannot filter on {key!r}: levels are {list(snapshot.levels)}, attributes {list(snapshot.attributes)}")
    for key, value in filters.items():
        if key in snapshot.levels and PATH_SEPARATOR.strip() in value and PATH_SEPARATOR in value:
            parts = [p.strip() for p in value.split(PATH_SEPARATOR.strip())]
            depth = snapshot.levels.index(key) + 1
            if len(parts) != depth:
                raise UsageError(f"path {value!r} for level {key!r} needs {depth} parts ({' / '.join(snapshot.levels[:depth])})")
            for lv, part in zip(snapshot.levels[:depth], parts):
                frame = frame.filter(pl.col(lv) == part)
        else:
            dtype = frame.schema[key]
            frame = frame.filter(pl.col(key).cast(pl.Utf8) == value) if dtype != pl.Utf8 else frame.filter(pl.col(key) == value)
    for key, value in filters.items():
        if key in snapshot.levels:
            depth = snapshot.levels.index(key) + 1
            paths = frame.select(snapshot.levels[:depth]).unique()
            if paths.height > 1:
                listed = [PATH_SEPARATOR.join(r) for r in paths.rows()][:10]
                raise UsageError(
                    f"{key}={value!r} is ambiguous: it names {paths.height} areas {listed}. "
                    f"Add a filter on a higher level or give the full path, e.g. {key}=\"{listed[0]}\"")
    return frame


def tabulate(
    snapshot: Snapshot,
    level: str | None = None,
    filters: Mapping[str, str] | None = None,
    share_base: str = "valid",
    rule: PresidentialRule | None = None,
    roll: pl.DataFrame | None = None,
    flagged_units: pl.Series | None = None,
) -> Tabulation:
    """Totals (and optionally per-area rows at ``level``) of a snapshot under the law.

    ``share_base`` is ``valid`` (default: shares of the sum of choices) or ``emitted``.
    ``roll`` (see :func:`escrutinio.io.read_roll`) gives progress against expected tables.
    ``flagged_units``: units that failed a check, whose count and ballots are reported.
    """
    if share_base not in ("valid", "emitted"):
        raise UsageError("share_base must be 'valid' or 'emitted'")
    frame = apply_filters(snapshot, filters)
    choices = list(snapshot.counted_choices)
    sums = frame.select([pl.col(c).sum() for c in (*TOTAL_KEYS, *choices)]).row(0, named=True)
    totals = {k: int(sums[k] or 0) for k in TOTAL_KEYS}
    votes = {c: int(sums[c] or 0) for c in choices}
    verdict = rule.decide(votes) if rule else None
    tab = Tabulation(snapshot, dict(filters or {}), frame.height, totals, votes, share_base, verdict)
    if snapshot.derived:
        tab.notes.append(f"not published, derived: {', '.join(snapshot.derived)}")
    if snapshot.withdrawn and snapshot.withdrawn_rule:
        tab.notes.append(f"votes for withdrawn candidacies {list(snapshot.withdrawn)} counted as null")
    if level is not None:
        tab.level = level
        tab.rows = by_level(frame, snapshot, level, choices, rule)
    if roll is not None:
        tab.progress = progress(frame, snapshot, roll, filters)
    if flagged_units is not None:
        hit = frame.filter(pl.col("unit").is_in(flagged_units.implode()))
        tab.flagged = {"units": hit.height, "emitted": int(hit.get_column("emitted").sum() or 0)}
    return tab


def by_level(frame: pl.DataFrame, snapshot: Snapshot, level: str, choices: Sequence[str], rule=None) -> pl.DataFrame:
    """One row per area at ``level`` (grouped by the full path down to it)."""
    if level in snapshot.levels:
        keys = list(snapshot.levels[: snapshot.levels.index(level) + 1])
    elif level in snapshot.attributes:
        keys = [level]
    else:
        raise UsageError(f"unknown level {level!r}: levels are {list(snapshot.levels)}, attributes {list(snapshot.attributes)}")
    rows = (
        frame.group_by(keys, maintain_order=True)
        .agg([pl.len().alias("units"), *[pl.col(c).sum() for c in (*TOTAL_KEYS, *choices)]])
        .with_columns(
            pl.concat_str([pl.col(k).cast(pl.Utf8).fill_null("?") for k in keys], separator=PATH_SEPARATOR).alias("path"),
            pl.col(keys[-1]).cast(pl.Utf8).alias("area"),
        )
        .sort("path")
    )
    if rule is not None:
        outcomes = [rule.decide({c: int(r[c]) for c in choices}).outcome for r in rows.select(choices).iter_rows(named=True)]
        rows = rows.with_columns(pl.Series("verdict", outcomes, pl.Utf8))
    return rows


def progress(frame: pl.DataFrame, snapshot: Snapshot, roll: pl.DataFrame, filters=None) -> dict:
    """Tables counted out of tables expected, and the share of registered voters covered."""
    key = "unit_id" if roll.get_column("unit_id").null_count() < roll.height and frame.get_column("unit_id").null_count() == 0 else "unit"
    expected = roll
    if filters:
        usable = {k: v for k, v in filters.items() if k in roll.columns}
        for k, v in usable.items():
            expected = expected.filter(pl.col(k) == v)
        if len(usable) < len(filters):
            # the roll has no geography for this filter: restrict it to the counted keys' places
            places = frame.get_column("place_id").drop_nulls()
            if places.len():
                expected = expected.filter(pl.col("place_id").is_in(places.implode()))
    counted = frame.select(key).unique()
    matched = expected.join(counted, on=key, how="semi")
    unknown = counted.join(expected.select(key), on=key, how="anti").height
    exp_units, exp_reg = expected.height, int(expected.get_column("registered").sum() or 0)
    got_reg = int(matched.get_column("registered").sum() or 0)
    return {
        "key": key,
        "counted_units": matched.height,
        "expected_units": exp_units,
        "units_pct": 100 * matched.height / exp_units if exp_units else 0.0,
        "registered_covered": got_reg,
        "registered_expected": exp_reg,
        "registered_pct": 100 * got_reg / exp_reg if exp_reg else 0.0,
        "counted_not_in_roll": unknown,
    }
