"""The PVT against the official count: each official share against the PVT interval,
a joint test over all shares, and table-by-table differences for the sampled tables that
are in both (the observer network's discrepancy check, contract C2).

Per choice. Null: the official share is the share of the whole count that the PVT
estimates. The statement is "consistent" when the official share lies inside the PVT's
``level`` interval (default 99%), else "outside the 99% interval by X points" (distance
to the nearer bound). With k choices each checked at 99%, an accurate count is flagged
somewhere by chance with probability about ``1 − 0.99**k``; the joint test has one level
for all choices.

Joint test. ``D² = (o − R̂)ᵀ Σ⁺ (o − R̂)`` with ``o`` the official shares, ``R̂`` the PVT's
and ``Σ⁺`` the pseudo-inverse of their covariance (shares sum to 1, so ``Σ`` has rank
``k − 1``); under the null and the normal approximation ``D² ~ χ²(k − 1)`` (Lohr 2019
§10.2, Wald test with a design-based covariance).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.stats import chi2

from escrutinio.errors import UsageError
from escrutinio.model import Snapshot
from escrutinio.observers import discrepancies
from escrutinio.pvt.design import Design
from escrutinio.pvt.estimate import PVTEstimate

CAVEAT = ("A PVT interval covers sampling error only. An official figure outside it is a discrepancy that the "
          "electoral body and the observers should explain table by table (the sampled tables' differences below "
          "are where to start); it is not by itself evidence of fraud, and a figure inside it does not prove "
          "every table right.")


@dataclass
class PVTComparison:
    level: float
    choices: dict[str, dict]
    lead: dict
    joint_test: dict
    official_tables: int
    frame_tables: int
    tables_compared: int
    tables_with_differences: int
    differences: pl.DataFrame
    sampled_only_official: list[str]
    sampled_only_reports: list[str]
    estimate: PVTEstimate
    notes: list[str] = field(default_factory=list)
    caveat: str = CAVEAT

    @property
    def consistent(self) -> bool:
        return all(v["status"] == "consistent" for v in self.choices.values())

    def to_dict(self) -> dict:
        return {
            "level": self.level,
            "choices": self.choices,
            "lead": self.lead,
            "consistent": self.consistent,
            "joint_test": self.joint_test,
            "official_tables": self.official_tables,
            "frame_tables": self.frame_tables,
            "tables": {"compared": self.tables_compared, "with_differences": self.tables_with_differences,
                       "differences": self.differences.to_dicts(),
                       "sampled_missing_from_reports": self.sampled_only_official,
                       "sampled_missing_from_official": self.sampled_only_reports},
            "estimate": self.estimate.to_dict(),
            "notes": self.notes,
            "caveat": self.caveat,
        }

    def summary(self) -> str:
        pct = f"{100 * self.level:g}%"
        e = self.estimate
        lines = [f"Official count against the PVT ({e.reported:,} of {e.sampled:,} sampled tables reported), {pct} intervals"]
        for c in sorted(self.choices, key=lambda c: -self.choices[c]["official"]):
            v = self.choices[c]
            lines.append(f"  {c:<16} official {v['official']:6.2f}%  PVT {v['share']:6.2f}% [{v['lo']:6.2f}, {v['hi']:6.2f}]  {v['statement']}")
        ld = self.lead
        lines.append(f"  lead {ld['between'][0]} over {ld['between'][1]}: official {ld['official']:.2f}  PVT {ld['point']:.2f} "
                     f"[{ld['lo']:.2f}, {ld['hi']:.2f}]  {ld['statement']}")
        jt = self.joint_test
        if jt.get("p_value") is not None:
            lines.append(f"  joint test (H0: {jt['null']}): D² = {jt['statistic']:.2f} on {jt['df']} df, p = {jt['p_value']:.3g}")
        lines.append(f"  table by table: {self.tables_compared:,} sampled tables in both, "
                     f"{self.tables_with_differences:,} with a difference ({self.differences.height:,} fields)")
        for r in self.differences.head(20).iter_rows(named=True):
            lines.append(f"    table {r['unit']}: {r['field']} official {r['official']} / report {r['copy']}")
        if self.differences.height > 20:
            lines.append(f"    ... {self.differences.height - 20:,} more (use --format json)")
        if self.sampled_only_official:
            lines.append(f"  sampled tables in the official count but not reported: {len(self.sampled_only_official):,}")
        if self.sampled_only_reports:
            lines.append(f"  sampled tables reported but not in the official count: {len(self.sampled_only_reports):,}")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


def _statement(value: float, lo: float, hi: float, pct: str) -> tuple[str, str, float]:
    if lo <= value <= hi:
        return "consistent", "consistent", 0.0
    by = lo - value if value < lo else value - hi
    where = "below" if value < lo else "above"
    return "outside", f"outside the {pct} interval by {by:.2f} points ({where})", round(by, 4)


def compare(design: Design, estimate: PVTEstimate, official: Snapshot, reports: Snapshot,
            level: float = 0.99) -> PVTComparison:
    """Official shares are taken from ``official`` as the law counts it; the sampled
    tables are compared as published on both sides."""
    pvt_choices = list(estimate.choices)
    official_choices = list(official.counted_choices)
    counted = official.counted()
    extra = [c for c in official_choices if c not in pvt_choices]
    lacking = [c for c in pvt_choices if c not in official_choices]
    if extra or lacking:
        raise UsageError(f"the official count and the reports have different choices: only official {extra}, "
                         f"only reports {lacking}")
    totals = counted.select([pl.col(c).sum() for c in pvt_choices]).row(0)
    valid = sum(int(v or 0) for v in totals)
    if valid <= 0:
        raise UsageError("the official count has no valid votes")
    off = {c: 100 * int(v or 0) / valid for c, v in zip(pvt_choices, totals)}
    pct = f"{100 * level:g}%"
    iv = estimate.interval(level)
    out_choices = {}
    for c in pvt_choices:
        status, text, by = _statement(off[c], iv[c]["lo"], iv[c]["hi"], pct)
        se = estimate.choices[c]["se"]
        out_choices[c] = {"official": round(off[c], 6), "share": round(iv[c]["share"], 6), "lo": round(iv[c]["lo"], 6),
                          "hi": round(iv[c]["hi"], 6), "z": round((off[c] - iv[c]["share"]) / se, 4) if se > 0 else None,
                          "status": status, "statement": text, "outside_by": by}
    a, b = estimate.lead["between"]
    off_lead = off[a] - off[b]
    status, text, by = _statement(off_lead, iv["lead"]["lo"], iv["lead"]["hi"], pct)
    lead = {"between": [a, b], "official": round(off_lead, 6), "point": round(iv["lead"]["point"], 6),
            "lo": round(iv["lead"]["lo"], 6), "hi": round(iv["lead"]["hi"], 6), "status": status, "statement": text,
            "outside_by": by}

    cov = np.asarray(estimate.covariance, dtype=np.float64)  # points² (shares in points)
    diff = np.array([off[c] - estimate.choices[c]["share"] for c in pvt_choices])
    joint = {"null": "the official shares are the whole-count shares the PVT estimates", "statistic": None,
             "df": None, "p_value": None}
    if cov.size and np.any(cov):
        rank = int(np.linalg.matrix_rank(cov, tol=1e-10 * float(np.abs(cov).max())))
        d2 = float(diff @ np.linalg.pinv(cov, rcond=1e-10, hermitian=True) @ diff)
        joint.update(statistic=round(d2, 4), df=rank, p_value=float(chi2.sf(d2, rank)) if rank > 0 else None)

    sample = pl.DataFrame({"unit": design.sample}, schema={"unit": pl.Utf8})
    off_s = official.frame.with_columns(pl.col("unit").cast(pl.Utf8)).join(sample, on="unit", how="semi")
    rep_s = reports.frame.with_columns(pl.col("unit").cast(pl.Utf8)).join(sample, on="unit", how="semi")
    fields = [f for f in discrepancies.comparable_fields(off_s, rep_s)]
    diffs = discrepancies.compare(off_s, rep_s, fields)
    only = discrepancies.only_in(off_s, rep_s)
    compared = off_s.join(rep_s.select("unit"), on="unit", how="semi").height
    notes = []
    frame_tables = int(design.frame["units"])
    if official.n_units < frame_tables:
        notes.append(f"the official count holds {official.n_units:,} of the frame's {frame_tables:,} tables: "
                     "it is partial, and its shares are not those of the whole count")
    k = len(pvt_choices)
    notes.append(f"with {k} choices each checked at {pct}, an accurate count is flagged for at least one choice by "
                 f"chance in about {100 * (1 - level ** k):.1f}% of samples (if the checks were independent); the joint "
                 "test has one level for all choices")
    return PVTComparison(
        level=level, choices=out_choices, lead=lead, joint_test=joint, official_tables=int(official.n_units),
        frame_tables=frame_tables, tables_compared=int(compared),
        tables_with_differences=int(diffs.get_column("unit").n_unique()) if diffs.height else 0,
        differences=diffs, sampled_only_official=only.filter(pl.col("source") == "official").get_column("unit").to_list(),
        sampled_only_reports=only.filter(pl.col("source") == "copies").get_column("unit").to_list(),
        estimate=estimate, notes=notes)
