"""Calibration: draw many PVT designs (the real seeded sampler, one seed per design) from
a complete count and check how often the interval covers the count's own figure; and
simulated elections with strong stratum effects to compare allocations.

The estimator runs over all designs at once (:func:`escrutinio.pvt.estimate.ratio_batch`);
only the SHA-256 tickets are computed design by design.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import polars as pl
from scipy.stats import norm

from escrutinio.pvt.design import Design, Previous, make_design, stratum_labels
from escrutinio.pvt.estimate import ratio_batch
from escrutinio.pvt.tickets import pick, ticket_order


def frame_codes(frame: pl.DataFrame, levels: Sequence[str], design: Design) -> np.ndarray:
    """Stratum index (in ``design.strata`` order) of every table of ``frame``."""
    labels = stratum_labels(frame, levels, design.strata_by)
    pooled = [s for s in design.strata if s.startswith("(other:")]
    if design.collapsed and pooled:
        labels = labels.replace({c: pooled[0] for c in design.collapsed})
    code_of = {s: i for i, s in enumerate(design.strata)}
    return labels.replace_strict(code_of, return_dtype=pl.Int64).to_numpy()


def samples(units: Sequence[str], seeds: Sequence, codes: np.ndarray, sizes: np.ndarray,
            allocations: Sequence[np.ndarray]) -> list[np.ndarray]:
    """For each allocation, a (designs, n) array of sampled row indexes, one row per seed.
    The ticket order depends on the seed only, so allocations share it."""
    units = [str(u) for u in units]
    encoded = [u.encode("utf-8") for u in units]
    out: list[list[np.ndarray]] = [[] for _ in allocations]
    for s in seeds:
        order = ticket_order(units, s, encoded)
        for k, take in enumerate(allocations):
            out[k].append(pick(order, codes, sizes, take))
    return [np.stack(rows) for rows in out]


@dataclass
class Coverage:
    names: list[str]
    truth: list[float]
    level: float
    designs: int
    n: int
    covered: list[int]
    mean_halfwidth: list[float]
    mean_error: list[float]

    def rate(self, name: str) -> float:
        return self.covered[self.names.index(name)] / self.designs

    def to_dict(self) -> dict:
        return {"designs": self.designs, "n": self.n, "level": self.level,
                "figures": {nm: {"truth": t, "covered": c, "coverage": c / self.designs, "mean_margin": m, "mean_error": e}
                            for nm, t, c, m, e in zip(self.names, self.truth, self.covered, self.mean_halfwidth, self.mean_error)}}

    def summary(self) -> str:
        pct = round(100 * self.level)
        lines = [f"{self.designs} designs of n = {self.n:,}: {pct}% interval coverage"]
        for nm, t, c, m, e in zip(self.names, self.truth, self.covered, self.mean_halfwidth, self.mean_error):
            lines.append(f"  {nm:<28} truth {t:7.3f}  covered {c}/{self.designs} = {100 * c / self.designs:.1f}%  "
                         f"mean margin ±{m:.3f} points  mean error {e:+.3f}")
        return "\n".join(lines)


def coverage(values: np.ndarray, x: np.ndarray, codes: np.ndarray, sizes: np.ndarray, sample_rows: np.ndarray,
             truth: Sequence[float], names: Sequence[str], level: float = 0.95) -> Coverage:
    """Coverage of the normal interval for each column of ``values`` (linear combinations
    of votes per table, shares of ``x``); ``truth`` in points."""
    R, se = ratio_batch(values, x, codes, sizes, sample_rows)
    R, se = 100 * np.atleast_2d(R.T).T, 100 * np.atleast_2d(se.T).T
    z = float(norm.ppf(0.5 + level / 2))
    t = np.asarray(truth, dtype=np.float64)[None, :]
    covered = (np.abs(R - t) <= z * se).sum(axis=0)
    return Coverage(list(names), [float(v) for v in t[0]], level, sample_rows.shape[0], sample_rows.shape[1],
                    [int(c) for c in covered], [float(v) for v in (z * se).mean(axis=0)],
                    [float(v) for v in (R - t).mean(axis=0)])


# ---------------------------------------------------------- simulation
STRATA = (
    # tables, mean share of A, between-table SD of A's share, mean registered
    (8000, 0.70, 0.03, 250),
    (6000, 0.30, 0.25, 120),
    (3000, 0.55, 0.05, 220),
    (2000, 0.45, 0.20, 90),
    (600, 0.80, 0.02, 200),
    (400, 0.20, 0.15, 60),
)


def simulate_election(seed: int = 0, strata=STRATA) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A current and a previous election (same tables) with strong stratum effects: strata
    differ in A's mean share, in how much tables differ within them, and in table size.
    Choices A, B, C; the previous election shares each table's propensity up to noise."""
    rng = np.random.default_rng(seed)
    frames = []
    rows = []
    for h, (n, mu, sd, reg) in enumerate(strata):
        k = mu * (1 - mu) / sd ** 2 - 1
        p = rng.beta(mu * k, (1 - mu) * k, n)
        registered = rng.integers(reg // 2, reg * 3 // 2 + 1, n)
        rows.append((h, p, registered))
    for shift in (0.02, 0.0):
        unit, stratum, regs, a, b, c, blank, null, em = [], [], [], [], [], [], [], [], []
        for h, p, registered in rows:
            q = np.clip(p + rng.normal(0, 0.03, p.size) - shift, 0.001, 0.999) if shift else p
            emitted = rng.binomial(registered, 0.82)
            invalid = rng.binomial(emitted, 0.04)
            valid = emitted - invalid
            va = rng.binomial(valid, q)
            vb = rng.binomial(valid - va, 0.85)
            unit.extend(f"S{h}-{i:05d}" for i in range(p.size))
            stratum.extend([f"R{h}"] * p.size)
            regs.append(registered)
            a.append(va)
            b.append(vb)
            c.append(valid - va - vb)
            bl = rng.binomial(invalid, 0.5)
            blank.append(bl)
            null.append(invalid - bl)
            em.append(emitted)
        cat = np.concatenate
        frames.append(pl.DataFrame({"unit": unit, "country": "Sim", "region": stratum, "registered": cat(regs),
                                    "A": cat(a), "B": cat(b), "C": cat(c), "blank": cat(blank), "null": cat(null),
                                    "emitted": cat(em)}))
    previous, current = frames
    return current, previous


# ------------------------------------------------------------ experiments
def _sizes(design: Design) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([v["tables"] for v in design.strata.values()]),
            np.array([v["sample"] for v in design.strata.values()]))


def count_coverage(snapshot, leader: str, runner_up: str, n: int, seeds: Sequence, strata: Sequence[str],
                   level: float = 0.95) -> Coverage:
    """Designs of ``n`` tables (one per seed, proportional allocation) drawn from a
    complete count, each estimating ``leader``'s share and its lead over ``runner_up``;
    truth is the count's own figure."""
    f = snapshot.counted()
    levels = list(snapshot.levels)
    d = make_design(f, n, 0, list(strata), levels)
    codes = frame_codes(f, levels, d)
    N, nh = _sizes(d)
    (rows,) = samples(f["unit"].to_list(), seeds, codes, N, [nh])
    a, b, x = (f[c].to_numpy().astype(np.float64) for c in (leader, runner_up, "valid"))
    truth = [100 * a.sum() / x.sum(), 100 * (a.sum() - b.sum()) / x.sum()]
    return coverage(np.column_stack([a, a - b]), x, codes, N, rows, truth,
                    [f"{leader} share", f"lead {leader} - {runner_up}"], level)


def allocation_comparison(sim_seed: int, n: int, seeds: Sequence, level: float = 0.95) -> dict:
    """Proportional against Neyman allocation on one simulated election, same seeds:
    ``{"proportional": (design, Coverage), "neyman": (design, Coverage)}``."""
    cur, prev = simulate_election(sim_seed)
    levels = ["country", "region"]
    previous = Previous(prev, ["A", "B", "C"])
    designs = {a: make_design(cur, n, 0, ["region"], levels, allocation=a, previous=previous)
               for a in ("proportional", "neyman")}
    codes = frame_codes(cur, levels, designs["proportional"])
    N, _ = _sizes(designs["proportional"])
    rows = samples(cur["unit"].to_list(), seeds, codes, N, [_sizes(d)[1] for d in designs.values()])
    a, b = cur["A"].to_numpy().astype(np.float64), cur["B"].to_numpy().astype(np.float64)
    x = a + b + cur["C"].to_numpy().astype(np.float64)
    truth = [100 * a.sum() / x.sum(), 100 * (a.sum() - b.sum()) / x.sum()]
    return {k: (d, coverage(np.column_stack([a, a - b]), x, codes, N, r, truth, ["A share", "lead A - B"], level))
            for (k, d), r in zip(designs.items(), rows)}
