"""Totals and shares at any geographic level, for any filter.

Areas are identified by their full path (country / department / ...), never by a bare
name: Bolivia 2019 has both a Bolivian department and an Argentine province named Santa
Cruz. Totals are exact integer sums over whole columns (Polars); shares are derived from
them only for display.
"""
from __future__ import annotations

import unicodedata
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
    completeness: "Completeness | None" = None

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
            "verdict": self._verdict_dict(),
        }
        if self.completeness is not None:
            out["final"] = self.final
            out["completeness"] = self.completeness.to_dict()
        if self.progress:
            out["progress"] = self.progress
        if self.flagged is not None:
            out["flagged"] = self.flagged
        if self.notes:
            out["notes"] = self.notes
        if self.rows is not None:
            out["level"] = self.level
            out["rows"] = rows_to_dicts(self.rows, list(self.choices), self.share_base)
            if "verdict" in self.rows.columns:
                out["rows_verdict_note"] = ("a row's verdict is what the rule would give on that area's tables alone: "
                                            "not a result under the law, which applies to the whole count")
        return out

    @property
    def final(self) -> bool:
        """True only for the whole count with every expected table in (contract C8)."""
        return bool(self.completeness and self.completeness.final)

    def _verdict_dict(self) -> dict | None:
        if not self.verdict:
            return None
        d = self.verdict.to_dict()
        if self.completeness is not None:
            from escrutinio.completeness import status

            d["final"] = self.final
            d["status"] = status(self.completeness)
        return d

    def summary(self) -> str:
        s = self.snapshot
        lines = [f"{s.election} · {s.contest} · {s.name}"]
        if self.filters:
            lines.append("filter: " + ", ".join(f"{k}={v}" for k, v in self.filters.items()))
        if self.completeness is not None:
            lines.append(completeness_line(self.completeness, self.final))
        t = self.totals
        r = self.rates()
        lines.append(
            f"tables {self.units:,}   registered {t['registered']:,}   emitted {t['emitted']:,}"
            + (f" (turnout {r['turnout']:.2f}%)" if r["turnout"] is not None else "")
        )
        lines.append(f"valid {t['valid']:,}   blank {t['blank']:,}   null {t['null']:,}")
        if self.progress and self.completeness is None:
            p = self.progress
            lines.append(f"progress: {p['counted_units']:,} of {p['expected_units']:,} tables ({p['units_pct']:.2f}%), "
                         f"{p['registered_pct']:.2f}% of registered voters")
        width = max((len(c) for c in self.choices), default=5)
        shares = self.shares()
        for c, v in sorted(self.choices.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {c:<{width}}  {v:>12,}  {shares[c]:6.2f}%")
        if self.flagged and self.flagged["units"]:
            lines.append(f"flagged actas: {self.flagged['units']:,} holding {self.flagged['emitted']:,} ballots "
                         "(counted as published; see `escrutinio check`)")
        if self.verdict:
            lines.append(self.verdict.summary())
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)


def completeness_line(c, final: bool) -> str:
    """One line saying what the figures below are: final, partial, a subset, or unknown."""
    if c.expected_tables is not None:
        share = f"{c.counted_tables:,} of {c.expected_tables:,} tables ({100 * c.table_share:.2f}%), " \
                f"{100 * (c.registered_share or 0):.2f}% of registered voters"
    elif not c.filtered:
        # said once, here; the verdict below stands as the file's
        return f"COUNT AS READ: {c.counted_tables:,} tables; {c.note}"
    else:
        share = f"{c.counted_tables:,} tables; expected tables unknown"
    head = "FINAL COUNT" if final else ("SUBSET, NOT A RESULT" if c.filtered else "PARTIAL COUNT")
    return f"{head}: {share} ({c.note})"


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


def fold(text: str) -> str:
    """Case- and accent-insensitive key: "Potosí", "POTOSI" and " potosi " are one name."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def _folded(frame: pl.DataFrame, column: str) -> pl.Expr:
    """The column's values folded (computed on its distinct values only, then mapped)."""
    values = frame.get_column(column).cast(pl.Utf8).unique().drop_nulls().to_list()
    return pl.col(column).cast(pl.Utf8).replace_strict({v: fold(v) for v in values}, default=None, return_dtype=pl.Utf8)


def _no_match(key: str, value: str, candidates: Sequence[str], scope: str = "") -> UsageError:
    import difflib  # only for an error message: not on every command's start-up

    names = sorted({str(c) for c in candidates if c is not None})
    by_fold = {fold(n): n for n in names}
    close = [by_fold[k] for k in difflib.get_close_matches(fold(value), list(by_fold), n=5, cutoff=0.6)]
    if not close:
        close = [n for n in names if fold(value) in fold(n) or fold(n) in fold(value)][:5]
    hint = f"closest: {', '.join(repr(c) for c in close)}" if close else f"names are: {', '.join(repr(n) for n in names[:12])}" + (" ..." if len(names) > 12 else "")
    return UsageError(f"--filter {key}={value!r} matches no table{scope}; {hint}")


def resolve_filters(snapshot: Snapshot, filters: Mapping[str, str] | None) -> dict[str, str]:
    """Check every filter names something in the snapshot and return it spelt as the data
    spells it. Matching ignores case and accents; a value that matches nothing is refused
    with the closest names (exit 2), never answered with 0 tables."""
    if not filters:
        return {}
    levels = list(snapshot.levels) + list(snapshot.attributes)
    for key in filters:
        if key not in levels:
            raise UsageError(f"cannot filter on {key!r}: levels are {list(snapshot.levels)}, attributes {list(snapshot.attributes)}")
    frame = snapshot.frame
    out: dict[str, str] = {}
    for key, value in filters.items():
        value = str(value).strip()
        if key in snapshot.levels and PATH_SEPARATOR in value:
            parts = [p.strip() for p in value.split(PATH_SEPARATOR.strip())]
            depth = snapshot.levels.index(key) + 1
            if len(parts) != depth:
                raise UsageError(f"path {value!r} for level {key!r} needs {depth} parts ({' / '.join(snapshot.levels[:depth])})")
            scope = frame
            spelt = []
            for lv, part in zip(snapshot.levels[:depth], parts):
                hit = scope.filter(_folded(scope, lv) == fold(part))
                if hit.height == 0:
                    raise _no_match(key, value, scope.get_column(lv).cast(pl.Utf8).unique().to_list(),
                                    f" (no {lv} {part!r}" + (f" under {' / '.join(spelt)}" if spelt else "") + ")")
                spelt.append(str(hit.get_column(lv)[0]))
                scope = hit
            out[key] = PATH_SEPARATOR.join(spelt)
        else:
            hit = frame.filter(_folded(frame, key) == fold(value))
            if hit.height == 0:
                raise _no_match(key, value, frame.get_column(key).cast(pl.Utf8).unique().to_list())
            spellings = hit.get_column(key).cast(pl.Utf8).unique(maintain_order=True).to_list()
            out[key] = value if value in spellings else spellings[0]
    return out


def apply_filters(snapshot: Snapshot, filters: Mapping[str, str] | None) -> pl.DataFrame:
    """Filter the counted frame by ``{level: value}``, ignoring case and accents. A value
    may be a full path ("Bolivia / Santa Cruz"); a bare name that matches areas under
    different parents is refused as ambiguous rather than silently merged, and filters
    that together match no table are refused too."""
    frame = snapshot.counted()
    if not filters:
        return frame
    filters = resolve_filters(snapshot, filters)
    for key, value in filters.items():
        if key in snapshot.levels and PATH_SEPARATOR in value:
            depth = snapshot.levels.index(key) + 1
            for lv, part in zip(snapshot.levels[:depth], value.split(PATH_SEPARATOR)):
                frame = frame.filter(_folded(frame, lv) == fold(part))
        else:
            frame = frame.filter(_folded(frame, key) == fold(value))
    for key, value in filters.items():
        if key in snapshot.levels:
            depth = snapshot.levels.index(key) + 1
            paths = frame.select(snapshot.levels[:depth]).unique()
            if paths.height > 1:
                listed = sorted(PATH_SEPARATOR.join(str(x) for x in r) for r in paths.rows())[:10]
                raise UsageError(
                    f"{key}={value!r} is ambiguous: it names {paths.height} areas {listed}. "
                    f"Add a filter on a higher level or give the full path, e.g. {key}=\"{listed[0]}\"")
    if frame.height == 0:
        given = ", ".join(f"{k}={v}" for k, v in filters.items())
        raise UsageError(f"the filters {given} each match tables, but no table matches all of them together")
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

    The tabulation says how complete the count is (:mod:`escrutinio.completeness`),
    and a verdict on a partial count or a filtered subset says so in its first words.
    """
    from escrutinio.completeness import measure, reword

    if share_base not in ("valid", "emitted"):
        raise UsageError("share_base must be 'valid' or 'emitted'")
    filters = resolve_filters(snapshot, filters)
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
    expected = ({"tables": snapshot.expected_tables, "registered": snapshot.expected_registered,
                 "source": snapshot.expected_source or "declared by the mapping"}
                if snapshot.expected_tables and snapshot.expected_registered else None)
    tab.completeness = measure(expected, frame.height, totals["registered"], tab.filters, tab.progress,
                               whole_tables=snapshot.n_units)
    tab.verdict = reword(verdict, tab.completeness, tab.filters)
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
