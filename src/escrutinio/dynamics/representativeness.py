"""How unlike the uncounted tables the counted ones are, in what the roll holds (issue 25).

A partial count is not a sample. Before a projection borrows from the counted tables,
this module measures how far they differ from the uncounted ones in what is known of
*every* table before it is counted: the area type where the roll (or a polling-place
file) has one, else the size of the settlement each polling place belongs to, the size
of the polling place and of the table.

* **Settlement size** (``settlement_classes``). Without an area type, the roll still says
  how many voters are registered in each polling place's locality (the level just above
  the polling place). Cities and villages differ in exactly that, and counts reach
  cities first. Classes are the decades of the locality's registered voters: under
  1,000, 1,000-9,999, 10,000-99,999, 100,000 or more. The breaks are fixed in advance
  (orders of magnitude, as census urban thresholds are), not fitted to any election.
* **Imbalance** (``imbalance``). For each numeric attribute (log registered voters of the
  table, of its polling place, of its settlement), the standardized mean difference
  between counted and uncounted tables, weighted by registered voters (Austin 2009); for
  each class attribute (area type, settlement class), the total variation distance
  between the counted and the uncounted voters' shares by class.
* **Rule.** The count is called *unrepresentative* when any |standardized difference| is
  at least 0.1, or any total variation distance at least 0.1. 0.1 is the usual threshold
  of a meaningful imbalance between groups in observational studies (Normand et al. 2001;
  Austin 2009); it was not tuned on any count. A random order of 100 tables or more
  stays under it most of the time (its standardized differences have a standard error of
  about sqrt(1/n_counted + 1/n_uncounted)); a false alarm only switches to the model that
  allows for selection, which is calibrated on random orders too (wider, not wrong).

* **What the strata leave** (``within_strata``). The same difference for log place size
  within the strata the model then uses. When it is meaningful, the roll cannot account
  for the selection: the projection says so and withholds its outcome probabilities.

References: Altonji, J. G., Elder, T. E. & Taber, C. R. "Selection on observed and
unobserved variables: assessing the effectiveness of Catholic schools." *Journal of
Political Economy* 113(1), 2005. Normand, S.-L. T. et al. "Validating recommendations for coronary
angiography following acute myocardial infarction in the elderly: a matched analysis
using propensity scores." *J. Clin. Epidemiol.* 54, 2001. Austin, P. C. "Balance
diagnostics for comparing the distribution of baseline covariates between treatment
groups in propensity-score matched samples." *Statistics in Medicine* 28, 2009.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import polars as pl

SETTLEMENT_BREAKS = (1_000, 10_000, 100_000)
SETTLEMENT_LABELS = ("under 1,000 voters", "1,000-9,999 voters", "10,000-99,999 voters", "100,000+ voters")
IMBALANCE_THRESHOLD = 0.1
SETTLEMENT = "settlement"


def settlement_classes(roll: pl.DataFrame, levels: Sequence[str]) -> pl.DataFrame | None:
    """The roll with ``settlement`` (decade class of the registered voters of each table's
    locality, the level just above the polling place) and ``settlement_voters``; None when
    the roll has no level above the polling place to measure it by."""
    levels = [lv for lv in levels if lv in roll.columns]
    if len(levels) < 2 or "registered" not in roll.columns:
        return None
    parent = levels[: len(levels) - 1]
    key = pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("") for c in parent], separator="|")
    voters = pl.col("registered").fill_null(0).sum().over(key)
    cls = pl.lit(SETTLEMENT_LABELS[-1])
    for brk, lab in reversed(list(zip(SETTLEMENT_BREAKS, SETTLEMENT_LABELS))):
        cls = pl.when(voters < brk).then(pl.lit(lab)).otherwise(cls)
    return roll.with_columns(cls.alias(SETTLEMENT), voters.cast(pl.Int64).alias("settlement_voters"))


def implied_selection_r(smd: float, f: float) -> float:
    """The correlation r between the count order's latent propensity and a standardized
    attribute that gives the standardized difference ``smd`` (counted against uncounted)
    when a share ``f`` is counted. Under the selection model of the projection (tables
    counted in the order of a normal propensity, Heckman 1979) the counted mean is
    r phi(z) / f and the uncounted mean -r phi(z) / (1 - f), z = Phi^-1(f), so
    smd = r phi(z) / (f (1 - f)). Why: the roll's own attributes show how selective this
    order is, in the same units as the selection prior (Altonji, Elder & Taber 2005)."""
    from scipy.stats import norm

    if not np.isfinite(smd) or not 0 < f < 1:
        return float("nan")
    # (a correlation: at most 1, which a deterministic order on the attribute reaches)
    return float(min(abs(smd) * f * (1 - f) / norm.pdf(norm.ppf(f)), 1.0))


def within_strata(roll: pl.DataFrame, is_counted: np.ndarray, strata: Sequence[str], place: str,
                  with_share: bool = False):
    """The standardized difference of log registered voters per polling place that the
    strata leave: each place's log size less its stratum's mean, counted against
    uncounted, in the strata that have both. Selection the strata leave on what the roll shows is the guide to selection
    they leave on what it does not show (Altonji, Elder & Taber 2005): when it is
    meaningful (|value| >= 0.1), the strata do not account for the order's selection."""
    is_c = np.asarray(is_counted, bool)
    key = pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("") for c in strata], separator="|")
    x = roll.select(pl.col("registered").fill_null(0).cast(pl.Float64).alias("_w"),
                    pl.col("registered").fill_null(0).sum().over(place).cast(pl.Float64).clip(1.0).log().alias("_ls"),
                    key.alias("_k"))
    x = x.with_columns((pl.col("_ls") - pl.col("_ls").mean().over("_k")).alias("_r"),
                       pl.Series("_c", is_c).cast(pl.Int64).alias("_c"))
    # only strata with tables on both sides: elsewhere there is no within-stratum contrast
    both = x.select(((pl.col("_c").sum().over("_k") > 0) & (pl.col("_c").sum().over("_k") < pl.len().over("_k")))
                    .alias("b"))["b"].to_numpy()
    if not both.any():
        return (float("nan"), float("nan")) if with_share else float("nan")
    w = x["_w"].to_numpy()[both]
    d = _smd(x["_r"].to_numpy()[both], w, is_c[both])
    if not with_share:
        return d
    # the share of registered voters counted in those strata, for implied_selection_r
    return d, float(w[is_c[both]].sum() / max(w.sum(), 1.0))


@dataclass
class Imbalance:
    """Counted against uncounted tables on the roll's attributes."""

    counted_tables: int
    uncounted_tables: int
    smd: dict[str, float] = field(default_factory=dict)  # numeric attribute -> standardized mean difference
    tvd: dict[str, float] = field(default_factory=dict)  # class attribute -> total variation distance
    shares: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # attr -> class -> [counted %, uncounted %]
    threshold: float = IMBALANCE_THRESHOLD
    within: dict | None = None  # {"strata": [...], "smd": x}: what the model's strata leave (within_strata)

    @property
    def strata_leave_selection(self) -> bool:
        return bool(self.within) and np.isfinite(self.within["smd"]) and abs(self.within["smd"]) >= self.threshold

    @property
    def largest(self) -> tuple[str, float]:
        items = [(k, abs(v)) for k, v in {**self.smd, **self.tvd}.items() if np.isfinite(v)]
        return max(items, key=lambda kv: kv[1]) if items else ("", float("nan"))

    @property
    def unrepresentative(self) -> bool:
        name, v = self.largest
        return bool(name) and v >= self.threshold

    def text(self) -> str:
        parts = [f"{k} {v:+.2f} sd" for k, v in self.smd.items()] + [f"{k} {v:.2f}" for k, v in self.tvd.items()]
        verdict = ("unlike the uncounted ones" if self.unrepresentative else "like the uncounted ones")
        return (f"counted tables are {verdict} in what the roll holds (standardized differences and distances of "
                f"class shares, counted against uncounted, by registered voters; |value| >= {self.threshold:g} is a "
                f"meaningful imbalance, Austin 2009): " + ", ".join(parts))

    def to_dict(self) -> dict:
        return {"counted_tables": self.counted_tables, "uncounted_tables": self.uncounted_tables,
                "standardized_differences": dict(self.smd), "class_distances": dict(self.tvd),
                "class_shares": self.shares, "threshold": self.threshold,
                "unrepresentative": self.unrepresentative, "within_strata": self.within}


def _smd(x: np.ndarray, w: np.ndarray, is_c: np.ndarray) -> float:
    ok = np.isfinite(x) & (w > 0)
    a, b = ok & is_c, ok & ~is_c
    if a.sum() < 2 or b.sum() < 2:
        return float("nan")
    ma, mb = np.average(x[a], weights=w[a]), np.average(x[b], weights=w[b])
    va = np.average((x[a] - ma) ** 2, weights=w[a])
    vb = np.average((x[b] - mb) ** 2, weights=w[b])
    sd = np.sqrt((va + vb) / 2)
    return float((ma - mb) / sd) if sd > 0 else 0.0


def imbalance(roll: pl.DataFrame, is_counted: np.ndarray, place: str | None = None,
              classes: Sequence[str] = ()) -> Imbalance:
    """Standardized differences of log registered voters per table, per polling place
    (``place`` column) and per settlement (``settlement_voters``), and class-share
    distances for ``classes`` (e.g. ``area``, ``settlement``), counted against uncounted."""
    is_c = np.asarray(is_counted, bool)
    w = roll["registered"].fill_null(0).cast(pl.Float64).to_numpy()
    out = Imbalance(int(is_c.sum()), int((~is_c).sum()))
    nums = {"log voters per table": roll["registered"].cast(pl.Float64)}
    if place and place in roll.columns:
        nums["log voters per polling place"] = roll.select(pl.col("registered").sum().over(place))[:, 0].cast(pl.Float64)
    if "settlement_voters" in roll.columns:
        nums["log voters per settlement"] = roll["settlement_voters"].cast(pl.Float64)
    for name, s in nums.items():
        out.smd[name] = _smd(np.log(np.maximum(s.fill_null(np.nan).to_numpy(), 1.0)), w, is_c)
    for c in classes:
        if c not in roll.columns:
            continue
        lab = roll[c].cast(pl.Utf8).fill_null("unknown").to_numpy()
        cats = sorted(set(lab.tolist()))
        wc, wu = max(w[is_c].sum(), 1e-12), max(w[~is_c].sum(), 1e-12)
        pc = np.array([w[is_c & (lab == k)].sum() / wc for k in cats])
        pu = np.array([w[~is_c & (lab == k)].sum() / wu for k in cats])
        out.tvd[c] = float(0.5 * np.abs(pc - pu).sum())
        out.shares[c] = {k: [float(100 * a), float(100 * b)] for k, a, b in zip(cats, pc, pu)}
    return out
