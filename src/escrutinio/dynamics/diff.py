"""Differences between two published snapshots of one count.

Tables added, tables removed, and tables whose published numbers changed (with before
and after). A count is cumulative: a table, once published, should keep its numbers. A
changed published tally is therefore a red flag that an observer must see and explain;
it is not, by itself, evidence of fraud (corrections after a recount are lawful and
common; so are transcription fixes).

No statistics here: exact integer differences. The summary gives the net effect of each
kind of difference on every choice and on the lead between the two leading choices of
the later snapshot (points of valid votes, valid = sum of choices).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Sequence

import polars as pl

from escrutinio.errors import UsageError

CAVEAT = ("A changed published tally must be explained (recount, correction, data-entry fix); "
          "a difference is not evidence of fraud by itself.")


@dataclass
class DiffResult:
    before: str
    after: str
    key: str
    compared: list[str]
    choices: list[str]
    added: int
    removed: int
    changed: int
    unchanged: int
    changed_units: list[dict]
    net: dict[str, int]
    net_added: dict[str, int]
    net_removed: dict[str, int]
    net_changed: dict[str, int]
    lead_pair: list[str]
    lead_before: float | None
    lead_after: float | None
    lead_change_from_changed: float | None
    lead_votes_from_changed: int
    added_units: list[str] = field(default_factory=list)
    removed_units: list[str] = field(default_factory=list)
    caveat: str = CAVEAT

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self, max_rows: int = 20) -> str:
        a, b = self.lead_pair
        lines = [
            f"Diff {self.before} -> {self.after} (key {self.key}; compared {', '.join(self.compared)})",
            f"  added {self.added:,}, removed {self.removed:,}, changed {self.changed:,}, unchanged {self.unchanged:,}",
            "  net change per choice (all / added / removed / changed tables):",
        ]
        for c in self.choices:
            lines.append(f"    {c:<14} {self.net[c]:+,} / {self.net_added[c]:+,} / {-self.net_removed[c]:+,} / {self.net_changed[c]:+,}")
        if self.lead_before is not None and self.lead_after is not None:
            lines.append(f"  lead {a} over {b}: {self.lead_before:.2f} -> {self.lead_after:.2f} points")
        if self.lead_change_from_changed is not None:
            lines.append(f"  changed tables alone move the lead by {self.lead_votes_from_changed:+,} votes "
                         f"({self.lead_change_from_changed:+.4f} points)")
        for u in self.changed_units[:max_rows]:
            diffs = ", ".join(f"{k} {u['before'][k]}->{u['after'][k]}" for k in u["fields"])
            lines.append(f"    table {u['unit']}: {diffs}")
        if self.changed > max_rows:
            lines.append(f"    ... {self.changed - max_rows:,} more")
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


def _frame(x) -> tuple[pl.DataFrame, Sequence[str], str]:
    if isinstance(x, pl.DataFrame):
        return x, [], "frame"
    return x.frame, list(x.choices), x.name


def _lead(tot: dict[str, int], a: str, b: str) -> float | None:
    valid = sum(tot.values())
    return float(Fraction(100 * (tot[a] - tot[b]), valid)) if valid else None


def diff(before, after, *, choices: Sequence[str] | None = None, key: str = "unit",
         compare: Sequence[str] | None = None) -> DiffResult:
    """Compare two snapshots (or unit frames) table by table.

    ``compare``: published columns whose change counts as a change; default registered,
    every choice, blank and null (those present in both).
    """
    fa, ca, na = _frame(before)
    fb, cb, nb = _frame(after)
    choices = list(choices or cb or ca)
    if not choices:
        raise UsageError("no choices given")
    miss = [c for c in choices if c not in fa.columns or c not in fb.columns]
    if miss:
        raise UsageError(f"choices missing from one snapshot: {miss}")
    for f, n in ((fa, na), (fb, nb)):
        if key not in f.columns:
            raise UsageError(f"{n} has no {key!r} column")
        if f[key].is_duplicated().any():
            raise UsageError(f"{n} lists table {f.filter(pl.col(key).is_duplicated())[key][0]!r} more than once")
    compare = list(compare or [c for c in ["registered", *choices, "blank", "null"] if c in fa.columns and c in fb.columns])
    a = fa.select(pl.col(key).cast(pl.Utf8), *compare)
    b = fb.select(pl.col(key).cast(pl.Utf8), *compare)
    j = (a.with_columns(pl.lit(True).alias("_in_a"))
         .join(b.with_columns(pl.lit(True).alias("_in_b")), on=key, how="full", suffix="_b", coalesce=True))
    both = j.filter(pl.col("_in_a") & pl.col("_in_b"))
    neq = [pl.col(c).ne_missing(pl.col(f"{c}_b")) for c in compare]
    both = both.with_columns(pl.any_horizontal(neq).alias("_changed"))
    ch = both.filter("_changed").sort(key)
    added = j.filter(pl.col("_in_a").is_null() & pl.col("_in_b"))
    removed = j.filter(pl.col("_in_a") & pl.col("_in_b").is_null())

    def sums(df: pl.DataFrame, suffix: str = "") -> dict[str, int]:
        return {c: int(df[f"{c}{suffix}"].fill_null(0).sum()) if df.height else 0 for c in choices}

    tot_a, tot_b = sums(fa), sums(fb)
    net = {c: tot_b[c] - tot_a[c] for c in choices}
    net_added = sums(added, "_b")
    net_removed = sums(removed)
    cb_, ca_ = sums(ch, "_b"), sums(ch)
    net_changed = {c: cb_[c] - ca_[c] for c in choices}
    order = sorted(choices, key=lambda c: -tot_b[c])
    pair = order[:2] if len(order) > 1 else order * 2
    lead_b, lead_a = _lead(tot_b, *pair), _lead(tot_a, *pair)
    # the counterfactual "before, with the changed tables as published after" isolates
    # what the corrections alone did to the lead
    fixed = {c: tot_a[c] + net_changed[c] for c in choices}
    lf = _lead(fixed, *pair)
    lead_change = (lf - lead_a) if (lf is not None and lead_a is not None) else None
    rows = []
    for r in ch.iter_rows(named=True):  # only changed tables: few, and each is reported
        fields = [c for c in compare if r[c] != r[f"{c}_b"]]
        rows.append({"unit": r[key], "fields": fields,
                     "before": {c: r[c] for c in compare}, "after": {c: r[f"{c}_b"] for c in compare}})
    return DiffResult(
        before=na, after=nb, key=key, compared=compare, choices=choices,
        added=added.height, removed=removed.height, changed=ch.height, unchanged=both.height - ch.height,
        changed_units=rows, net=net, net_added=net_added, net_removed=net_removed, net_changed=net_changed,
        lead_pair=list(pair), lead_before=lead_a, lead_after=lead_b, lead_change_from_changed=lead_change,
        lead_votes_from_changed=net_changed[pair[0]] - net_changed[pair[1]],
        added_units=sorted(added[key].to_list()), removed_units=sorted(removed[key].to_list()),
    )
