"""Timeline of a count: tables counted over time, shares and lead over time, and each
table's first-seen time (its arrival order).

Descriptive, no null hypothesis. Snapshots are ordered by their parsed export time
(:mod:`escrutinio.timeparse`; never by text), undated ones last in load order.
Shares are of valid votes under the law (``Snapshot.counted()``: withdrawn candidacies'
votes count as null). The lead is between the two leading choices of the latest snapshot,
so that its sign means the same thing all along.

Caveat: a partial count is not a sample. Shares early in a count describe the tables
counted so far, which are rarely like the rest (cities and abroad report first).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

import polars as pl

from escrutinio.timeparse import order_by_time
from escrutinio.errors import UsageError


@dataclass
class TimelineResult:
    choices: list[str]
    lead_pair: list[str]
    expected_units: int | None
    rows: list[dict]
    first_seen: pl.DataFrame | None = None  # key, first snapshot index, first time
    notes: list[str] = field(default_factory=list)
    caveat: str = ("A partial count is not a sample: early shares describe the tables counted so far, "
                   "which are rarely like the rest.")

    def to_dict(self) -> dict:
        return {"choices": self.choices, "lead_pair": self.lead_pair, "expected_units": self.expected_units,
                "snapshots": self.rows, "notes": self.notes, "caveat": self.caveat,
                "first_seen_units": int(self.first_seen.height) if self.first_seen is not None else None}

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame([{k: v for k, v in r.items() if not isinstance(v, dict)} for r in self.rows])

    def summary(self) -> str:
        a, b = self.lead_pair
        lines = [f"Timeline of {len(self.rows)} snapshots (lead = {a} - {b}, points of valid votes)"]
        lines.append(f"  {'time':<24} {'tables':>8} {'new':>7} {'counted%':>9} " +
                     " ".join(f"{c[:10]:>10}" for c in self.lead_pair) + f" {'lead':>7}")
        for r in self.rows:
            pct = f"{r['share_counted']:.2f}" if r["share_counted"] is not None else "-"
            lines.append(f"  {str(r['time'] or r['label'])[:24]:<24} {r['units']:>8,} {r['new_units']:>7,} {pct:>9} " +
                         " ".join(f"{r['shares'][c]:>10.2f}" for c in self.lead_pair) + f" {r['lead']:>7.2f}")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


def timeline(snapshots: Sequence, *, expected_units: int | None = None, roll: pl.DataFrame | None = None,
             key: str = "unit", times: Sequence[datetime | None] | None = None) -> TimelineResult:
    """Build the timeline of one contest's snapshots.

    ``expected_units``: tables expected in the count (default: the roll's, else the largest
    snapshot's, which is then stated in the notes). ``times`` overrides export times.
    """
    if not snapshots:
        raise UsageError("no snapshots")
    contests = {s.contest for s in snapshots}
    if len(contests) > 1:
        raise UsageError(f"a timeline is of one contest; got {sorted(contests)}")
    ts = list(times) if times is not None else [s.exported_at for s in snapshots]
    if len(ts) != len(snapshots):
        raise UsageError("one time per snapshot")
    order = order_by_time(ts)
    snaps = [snapshots[i] for i in order]
    ts = [ts[i] for i in order]
    notes = []
    if any(t is None for t in ts):
        notes.append("some snapshots have no export time; they are placed last, in load order")
    latest = snaps[-1]
    choices = list(latest.counted_choices)
    if roll is not None:
        expected_units = roll.height
    if expected_units is None:
        expected_units = max(s.n_units for s in snaps)
        notes.append(f"expected tables taken as the largest snapshot's ({expected_units:,}); give a roll to be exact")
    frames = []
    totals = []
    for i, s in enumerate(snaps):
        f = s.counted()
        miss = [c for c in choices if c not in f.columns]
        if miss:
            raise UsageError(f"{s.name} lacks choices {miss}")
        totals.append(f.select([pl.col(c).sum() for c in [*choices, "blank", "null", "registered"]]).row(0, named=True))
        frames.append(f.select(pl.col(key).cast(pl.Utf8)).with_columns(pl.lit(i, dtype=pl.Int32).alias("_snap")))
    seen = pl.concat(frames).group_by(key).agg(pl.col("_snap").min().alias("first_snapshot"))
    tmap = pl.DataFrame({"first_snapshot": list(range(len(snaps))), "first_time": ts},
                        schema={"first_snapshot": pl.Int32, "first_time": pl.Datetime})
    seen = seen.join(tmap, on="first_snapshot", how="left").sort(["first_snapshot", key])
    new_counts = seen.group_by("first_snapshot").len().sort("first_snapshot")
    new_map = dict(zip(new_counts["first_snapshot"].to_list(), new_counts["len"].to_list()))
    tot_last = totals[-1]
    pair = sorted(choices, key=lambda c: -tot_last[c])[:2]
    if len(pair) < 2:
        pair = pair * 2
    rows = []
    for i, (s, t, tot) in enumerate(zip(snaps, ts, totals)):
        valid = sum(int(tot[c]) for c in choices)
        shares = {c: (100 * int(tot[c]) / valid if valid else 0.0) for c in choices}
        rows.append({
            "label": s.name, "time": t.isoformat() if t else None, "units": s.n_units,
            "new_units": int(new_map.get(i, 0)),
            "share_counted": 100 * s.n_units / expected_units if expected_units else None,
            "registered": int(tot["registered"] or 0), "valid": valid,
            "blank": int(tot["blank"] or 0), "null": int(tot["null"] or 0),
            "totals": {c: int(tot[c]) for c in choices}, "shares": shares,
            "lead": shares[pair[0]] - shares[pair[1]],
        })
    return TimelineResult(choices=choices, lead_pair=list(pair), expected_units=expected_units,
                          rows=rows, first_seen=seen, notes=notes)


def arrival_timeline(snapshot, column: str, *, steps: Sequence[float] | None = None,
                     missing_above: float | None = None) -> TimelineResult:
    """Timeline of one final snapshot replayed by a per-table arrival column (e.g.
    ``trep_arrival_pct`` of ``mesas_2019_linked.csv.gz``: the percentile of publication,
    known to the interval between two web snapshots).

    ``steps``: arrival values at which to cut (default every 5 from 5 to 100). Tables
    whose arrival is ``>= missing_above`` (97.81 marks tables the TREP never published)
    are left out of every step and reported in the notes.
    """
    frame = snapshot.counted()
    if column not in frame.columns:
        raise UsageError(f"{snapshot.name} has no arrival column {column!r}")
    if frame[column].null_count():
        raise UsageError(f"{frame[column].null_count()} tables have no value in {column!r}")
    choices = list(snapshot.counted_choices)
    notes = []
    if missing_above is not None:
        never = frame.filter(pl.col(column) >= missing_above).height
        notes.append(f"{never:,} tables with {column} >= {missing_above} (never published in this order) are left out")
        frame = frame.filter(pl.col(column) < missing_above)
    steps = list(steps) if steps is not None else [5.0 * i for i in range(1, 21)]
    f = frame.sort([column, "unit"])
    cum = f.select(pl.col(column), *[pl.col(c).cum_sum() for c in [*choices, "blank", "null", "registered"]],
                   pl.int_range(1, f.height + 1).alias("_n"))
    arr = f[column].to_numpy()
    import numpy as np

    idx = np.searchsorted(arr, np.asarray(steps, dtype=float), side="right") - 1
    tot_last = cum.row(cum.height - 1, named=True)
    pair = sorted(choices, key=lambda c: -tot_last[c])[:2]
    rows, prev_n = [], 0
    expected = snapshot.n_units
    for p, i in zip(steps, idx):
        if i < 0:
            continue
        r = cum.row(int(i), named=True)
        valid = sum(int(r[c]) for c in choices)
        shares = {c: (100 * int(r[c]) / valid if valid else 0.0) for c in choices}
        rows.append({"label": f"{column} <= {p:g}", "time": None, "units": int(r["_n"]), "new_units": int(r["_n"]) - prev_n,
                     "share_counted": 100 * int(r["_n"]) / expected, "registered": int(r["registered"]), "valid": valid,
                     "blank": int(r["blank"]), "null": int(r["null"]), "totals": {c: int(r[c]) for c in choices},
                     "shares": shares, "lead": shares[pair[0]] - shares[pair[1]]})
        prev_n = int(r["_n"])
    first = f.select(pl.col("unit"), pl.col(column).alias("first_seen"))
    return TimelineResult(choices=choices, lead_pair=list(pair), expected_units=expected, rows=rows,
                          first_seen=first, notes=notes)
