"""Counting-order analysis: does the lead of the late-counted tables follow from where
they are?

* **Cumulative lead** against the share of tables counted, and the lead **by arrival
  bin**, in a real arrival order (the 2019 TREP and cómputo orders of
  ``mesas_2019_linked.csv.gz``, or first-seen snapshot).
* **Late versus expected.** For tables counted after a cut point, the lead they actually
  gave is compared with the lead expected for them from earlier-counted tables in the
  same polling place, then locality, municipality, province and department
  (hierarchical matching as in CEPR, Nov 2019, and Curiel & Williams, MIT, Feb 2020),
  simulated with :func:`escrutinio.dynamics.projection.project`.

  Null hypothesis: the late tables vote like the earlier-counted tables of their own
  areas (the hierarchical expectation). Statistic: actual lead of the late tables
  (points of their valid votes) minus its simulated expectation. p-value: two-sided,
  from the simulated distribution, ``2 * min(P(sim <= actual), P(sim >= actual))``
  with the usual +1 correction. **Placebo tests** repeat the same test at cut points
  where nothing happened; a break that is only "significant" at the real cut and not at
  the placebos is the pattern to look for, and even then the caveat applies.
* **Naive linear extrapolation** of the cumulative lead from the last stretch before the
  cut to 100% counted, labelled as what it is: the method of the OAS audit's trend
  argument, which ignores where the late tables are (Idrobo, Kronick & Rodríguez,
  J. Politics 84(4), 2022, show that this is what produces a spurious "break").

Caveat: an unexpected late shift is an anomaly to explain (recounts, areas with no
earlier counted tables, data errors). It is never by itself evidence of fraud.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import polars as pl

from escrutinio.dynamics.projection import project
from escrutinio.errors import UsageError

CAVEAT = ("A late shift that differs from the hierarchical expectation is an anomaly to explain; "
          "it is not evidence of fraud. A shift that matches the expectation is what non-random "
          "arrival produces (late areas differ).")


def _ordered(frame: pl.DataFrame, order: str) -> pl.DataFrame:
    if order not in frame.columns:
        raise UsageError(f"no arrival-order column {order!r}; columns: {frame.columns}")
    bad = frame[order].null_count()
    if bad:
        raise UsageError(f"{bad} tables have no arrival order in {order!r}")
    # ties (tables published between the same two snapshots) keep a stable, reproducible order
    return frame.sort([order, "unit"])


@dataclass
class CumulativeLead:
    order: str
    lead_pair: list[str]
    share_counted: list[float]  # percent of tables, at each step
    lead: list[float]  # cumulative lead, points
    bins: list[dict]  # per arrival bin: range, tables, shares of the pair, lead within the bin

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        a, b = self.lead_pair
        lines = [f"Lead {a} - {b} by arrival bin ({self.order})",
                 f"  {'bin %':<12} {'tables':>7} {'bin lead':>9} {'cum. lead':>10}"]
        for r in self.bins:
            lines.append(f"  {r['lo']:>5.1f}-{r['hi']:<5.1f} {r['tables']:>7,} {r['lead']:>9.2f} {r['cumulative_lead']:>10.2f}")
        return "\n".join(lines)


def cumulative_lead(frame: pl.DataFrame, order: str, choices: Sequence[str], *, pair: Sequence[str] | None = None,
                    bins: int = 20, points: int = 400) -> CumulativeLead:
    """Cumulative lead against share of tables counted, and the lead within arrival bins
    (equal numbers of tables, in arrival order)."""
    f = _ordered(frame, order)
    choices = list(choices)
    tot = f.select([pl.col(c).sum() for c in choices]).row(0)
    if pair is None:
        o = np.argsort(tot)[::-1]
        pair = [choices[o[0]], choices[o[1]]]
    a, b = pair
    d = (f[a] - f[b]).to_numpy().astype(np.float64)
    v = f.select(pl.sum_horizontal(choices)).to_series().to_numpy().astype(np.float64)
    cd, cv = np.cumsum(d), np.cumsum(v)
    n = f.height
    lead = 100 * cd / np.where(cv > 0, cv, 1)
    idx = np.unique(np.linspace(0, n - 1, min(points, n)).astype(int))
    edges = np.linspace(0, n, bins + 1).astype(int)
    rows = []
    for i in range(bins):  # bins are few (<= 100): a loop over bins, not tables
        lo, hi = edges[i], edges[i + 1]
        if hi <= lo:
            continue
        vv, dd = v[lo:hi].sum(), d[lo:hi].sum()
        rows.append({"lo": 100 * lo / n, "hi": 100 * hi / n, "tables": int(hi - lo),
                     "valid": int(vv), "lead": float(100 * dd / vv) if vv else 0.0,
                     "cumulative_lead": float(lead[hi - 1])})
    return CumulativeLead(order=order, lead_pair=list(pair), share_counted=[float(100 * (i + 1) / n) for i in idx],
                          lead=[float(lead[i]) for i in idx], bins=rows)


@dataclass
class LateShift:
    cut: float  # percent of tables counted before the cut
    late_tables: int
    actual_late_lead: float
    expected_late_lead: float
    lo: float
    hi: float
    level: float
    p_value: float
    actual_final_lead: float
    expected_final_lead: float
    final_lo: float
    final_hi: float
    counted_lead_at_cut: float

    def to_dict(self) -> dict:
        return asdict(self)


def late_vs_expected(frame: pl.DataFrame, order: str, cut: float, choices: Sequence[str], *,
                     levels: Sequence[str], pair: Sequence[str] | None = None, simulations: int = 1000,
                     seed: int | None = 0, level: float = 0.95, min_donors: int = 2) -> LateShift:
    """Compare the tables counted after ``cut`` (percent of tables, in arrival order) with
    their hierarchical expectation from the tables counted before."""
    if not 0 < cut < 100:
        raise UsageError("cut must be a percentage strictly between 0 and 100")
    f = _ordered(frame, order)
    choices = list(choices)
    n_early = int(round(f.height * cut / 100))
    early, late = f.head(n_early), f.tail(f.height - n_early)
    roll = f.select([c for c in ("unit", "unit_id", "place_id", *levels, "registered") if c in f.columns])
    r = project(early, roll, choices, levels=levels, simulations=simulations, seed=seed, level=level,
                min_donors=min_donors, key="unit")
    if pair is None:
        pair = r.lead_pair
    ia, ib = r.channels.index(pair[0]), r.channels.index(pair[1])
    dr = r.draws
    sim_valid = dr[:, : len(choices)].sum(axis=1)
    sim_late = 100 * (dr[:, ia] - dr[:, ib]) / sim_valid
    lv = late.select(pl.sum_horizontal(choices)).to_series().sum()
    act_late = 100 * float(late[pair[0]].sum() - late[pair[1]].sum()) / lv
    ev = early.select(pl.sum_horizontal(choices)).to_series().sum()
    e_d = float(early[pair[0]].sum() - early[pair[1]].sum())
    sim_final = 100 * (e_d + dr[:, ia] - dr[:, ib]) / (ev + sim_valid)
    fv = f.select(pl.sum_horizontal(choices)).to_series().sum()
    act_final = 100 * float(f[pair[0]].sum() - f[pair[1]].sum()) / fv
    S = sim_late.size
    p = min(1.0, 2 * min((np.sum(sim_late <= act_late) + 1) / (S + 1), (np.sum(sim_late >= act_late) + 1) / (S + 1)))
    q = (1 - level) / 2
    lo, hi = np.quantile(sim_late, [q, 1 - q])
    flo, fhi = np.quantile(sim_final, [q, 1 - q])
    return LateShift(cut=cut, late_tables=late.height, actual_late_lead=act_late,
                     expected_late_lead=float(np.mean(sim_late)), lo=float(lo), hi=float(hi), level=level,
                     p_value=float(p), actual_final_lead=act_final, expected_final_lead=float(np.mean(sim_final)),
                     final_lo=float(flo), final_hi=float(fhi), counted_lead_at_cut=100 * e_d / ev)


@dataclass
class NaiveExtrapolation:
    cut: float
    window: float
    slope_per_point: float
    extrapolated_final_lead: float
    label: str = ("NAIVE linear extrapolation of the cumulative lead: it assumes the remaining tables continue "
                  "the recent trend and ignores where they are. Shown because it was used, not because it is valid.")

    def to_dict(self) -> dict:
        return asdict(self)


def naive_extrapolation(cum: CumulativeLead, cut: float, window: float = 20.0) -> NaiveExtrapolation:
    """Least-squares line through the cumulative lead over ``[cut - window, cut]`` percent
    counted, read at 100%."""
    x, y = np.asarray(cum.share_counted), np.asarray(cum.lead)
    m = (x >= cut - window) & (x <= cut)
    if m.sum() < 2:
        raise UsageError("too few points in the extrapolation window")
    slope, icept = np.polyfit(x[m], y[m], 1)
    return NaiveExtrapolation(cut=cut, window=window, slope_per_point=float(slope),
                              extrapolated_final_lead=float(icept + slope * 100))


@dataclass
class CountingOrderResult:
    order: str
    cumulative: CumulativeLead
    test: LateShift
    placebos: list[LateShift]
    naive: NaiveExtrapolation
    notes: list[str] = field(default_factory=list)
    caveat: str = CAVEAT
    method: str = ("late tables vs hierarchical expectation from earlier tables (CEPR 2019; Curiel & Williams 2020); "
                   "placebo cut points; naive extrapolation as used in the OAS audit (Idrobo, Kronick & Rodríguez 2022)")

    def to_dict(self) -> dict:
        return {"order": self.order, "cumulative": self.cumulative.to_dict(), "test": self.test.to_dict(),
                "placebos": [p.to_dict() for p in self.placebos], "naive": self.naive.to_dict(),
                "notes": self.notes, "caveat": self.caveat, "method": self.method}

    def summary(self) -> str:
        a, b = self.cumulative.lead_pair
        lines = [self.cumulative.summary(), "",
                 f"Late tables vs hierarchical expectation ({a} - {b}, points; {100 * self.test.level:.0f}% interval):",
                 f"  {'cut %':>6} {'late':>7} {'actual':>8} {'expected':>9} {'interval':>17} {'p':>6}   final lead exp. [interval] vs actual"]
        for t in [self.test, *self.placebos]:
            tag = "  <- test" if t is self.test else "  placebo"
            lines.append(f"  {t.cut:>6.2f} {t.late_tables:>7,} {t.actual_late_lead:>8.2f} {t.expected_late_lead:>9.2f} "
                         f"[{t.lo:>6.2f}, {t.hi:>6.2f}] {t.p_value:>6.3f}   {t.expected_final_lead:.2f} "
                         f"[{t.final_lo:.2f}, {t.final_hi:.2f}] vs {t.actual_final_lead:.2f}{tag}")
        n = self.naive
        lines.append(f"  {n.label}")
        lines.append(f"    from {n.cut - n.window:.0f}-{n.cut:.0f}% counted: {n.extrapolated_final_lead:.2f} points at 100%")
        lines.extend(f"  note: {x}" for x in self.notes)
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


def counting_order(frame: pl.DataFrame, order: str, choices: Sequence[str], *, levels: Sequence[str],
                   cut: float, placebo_cuts: Sequence[float] = (50, 60, 70, 80, 90, 95), bins: int = 20,
                   simulations: int = 1000, seed: int | None = 0, level: float = 0.95,
                   window: float = 20.0) -> CountingOrderResult:
    """Cumulative lead, the late-shift test at ``cut`` and at placebo cuts, and the naive
    extrapolation, for one arrival order."""
    cum = cumulative_lead(frame, order, choices, bins=bins)
    kw = dict(levels=levels, pair=cum.lead_pair, simulations=simulations, seed=seed, level=level)
    test = late_vs_expected(frame, order, cut, choices, **kw)
    plac = [late_vs_expected(frame, order, c, choices, **kw) for c in placebo_cuts if abs(c - cut) > 1e-9]
    return CountingOrderResult(order=order, cumulative=cum, test=test, placebos=plac,
                               naive=naive_extrapolation(cum, cut, window))
