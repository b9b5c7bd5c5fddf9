"""Backtest and calibration of the projection.

* :func:`backtest` replays a final count in a real arrival order (the 2019 TREP and
  cómputo orders of ``mesas_2019_linked.csv.gz``) or in simulated random orders, and at
  10%, 20% ... 95% counted projects the final result from the tables counted so far,
  reporting the error of the projected lead and whether the interval covered the truth.
* :func:`calibration` does the same on *simulated elections where the truth is known*
  (hierarchical vote shares: department, municipality, locality, polling place and table
  effects; multinomial ballots; arrival driven by municipality remoteness, so late areas
  differ). A calibrated method's 90% intervals cover the truth about 90% of the time.

Null hypothesis (calibration): the nominal coverage is the true coverage. Statistic: the
number of intervals that cover the truth; a two-sided exact binomial p-value is given.
Caveat: calibration on simulated elections shows the method is right *when its
assumptions hold* (uncounted tables are like counted ones of their own area); the
backtest on a real count shows what happens when they do not.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import polars as pl

from escrutinio.dynamics.projection import project
from escrutinio.errors import UsageError

SIM_LEVELS = ("department", "municipality", "locality", "polling_place")
SIM_CHOICES = ("A", "B", "C")


def simulated_election(seed: int = 0, *, departments: int = 4, municipalities: int = 8, localities: int = 4,
                       places: int = 3, mean_tables: float = 3.0, arrival_effect: float = 1.0,
                       place_effect: float = 0.0) -> pl.DataFrame:
    """A synthetic election with known truth (one row per table, with an ``arrival`` rank).

    Vote propensities are a logistic-normal with effects at every level; turnout too.
    Arrival: each municipality has a remoteness score that both delays its tables and
    tilts its vote towards choice A (late areas differ), plus place-level noise.
    ``place_effect``: the same within municipalities, place by place (slow places in a
    municipality lean to A), the pattern of the 2019 Bolivian TREP; 0 draws nothing extra,
    so earlier seeds give the same elections.
    """
    rng = np.random.default_rng(seed)
    rows_dep, rows_mun, rows_loc, rows_pl = [], [], [], []
    k = len(SIM_CHOICES) + 2  # choices + blank + null
    base = np.array([0.0, -0.1, -1.2, -3.5, -3.0])
    eff = []
    arrival = []
    for d in range(departments):
        ed = rng.normal(0, 0.35, k)
        for m in range(municipalities):
            remote = rng.random()
            em = ed + rng.normal(0, 0.25, k) + np.array([0.8 * remote * arrival_effect, 0, 0, 0, 0])
            for lo in range(localities):
                el = em + rng.normal(0, 0.15, k)
                for p in range(places):
                    ep = el + rng.normal(0, 0.1, k)
                    nt = 1 + rng.poisson(mean_tables - 1)
                    t_place = remote * arrival_effect + rng.normal(0, 0.35)
                    if place_effect:
                        slow = rng.random()
                        ep = ep + np.array([0.8 * slow * place_effect, 0, 0, 0, 0])
                        t_place += slow * place_effect
                    for t in range(nt):
                        rows_dep.append(f"D{d}")
                        rows_mun.append(f"D{d}M{m}")
                        rows_loc.append(f"D{d}M{m}L{lo}")
                        rows_pl.append(f"D{d}M{m}L{lo}P{p}")
                        eff.append(ep + rng.normal(0, 0.05, k))
                        arrival.append(t_place + rng.normal(0, 0.1))
    return ballots(rng, np.asarray(eff) + base, {"department": rows_dep, "municipality": rows_mun,
                                                 "locality": rows_loc, "polling_place": rows_pl}, SIM_CHOICES, arrival)


def ballots(rng: np.random.Generator, eff: np.ndarray, rows: dict, choices: Sequence[str], arrival) -> pl.DataFrame:
    """Tables of a simulated election from logit propensities (tables x channels):
    registered voters, binomial turnout, multinomial ballots; ``arrival`` becomes a rank."""
    n = eff.shape[0]
    registered = rng.integers(150, 231, n)
    turnout = 1 / (1 + np.exp(-(1.6 + rng.normal(0, 0.3, n))))
    voters = rng.binomial(registered, turnout)
    p = np.exp(eff)
    p /= p.sum(axis=1, keepdims=True)
    votes = np.vstack([rng.multinomial(v, pp) for v, pp in zip(voters, p)])  # generator only, not a hot path
    cols = {"unit": [f"T{i:06d}" for i in range(n)], **rows, "registered": registered.astype(np.int64)}
    for i, c in enumerate([*choices, "blank", "null"]):
        cols[c] = votes[:, i].astype(np.int64)
    cols["arrival"] = np.argsort(np.argsort(np.asarray(arrival))).astype(np.int64)
    return pl.DataFrame(cols)


def _truth(frame: pl.DataFrame, choices: Sequence[str], pair: Sequence[str]) -> tuple[float, dict[str, float]]:
    tot = frame.select([pl.col(c).sum() for c in choices]).row(0, named=True)
    v = sum(tot.values())
    return 100 * (tot[pair[0]] - tot[pair[1]]) / v, {c: 100 * tot[c] / v for c in choices}


@dataclass
class BacktestRow:
    counted_pct: float
    counted_tables: int
    counted_lead: float
    projected_lead: float
    lo: float
    hi: float
    final_lead: float
    error: float
    covered: bool
    p_first_round: float


@dataclass
class BacktestResult:
    order: str
    level: float
    simulations: int
    lead_pair: list[str]
    final_lead: float
    rows: list[BacktestRow]
    coverage: float
    mean_abs_error: float
    notes: list[str] = field(default_factory=list)
    caveat: str = ("A backtest replays one real count: its coverage is one realisation, not a rate. "
                   "Arrival percentiles are known to the interval between two web snapshots.")

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        a, b = self.lead_pair
        lines = [f"Backtest in {self.order} order: lead {a} - {b}, final {self.final_lead:.2f}; "
                 f"{100 * self.level:.0f}% intervals, {self.simulations} simulations",
                 f"  {'counted%':>8} {'tables':>7} {'counted lead':>13} {'projected':>10} {'interval':>18} {'error':>7} cover"]
        for r in self.rows:
            lines.append(f"  {r.counted_pct:>8.0f} {r.counted_tables:>7,} {r.counted_lead:>13.2f} {r.projected_lead:>10.2f} "
                         f"[{r.lo:>6.2f}, {r.hi:>6.2f}] {r.error:>+7.2f} {'yes' if r.covered else 'NO'}")
        lines.append(f"  coverage {100 * self.coverage:.0f}% of {len(self.rows)}; mean |error| {self.mean_abs_error:.2f} points")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


DEFAULT_FRACTIONS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)


def backtest(frame: pl.DataFrame, choices: Sequence[str], *, levels: Sequence[str], order: str | None = None,
             random_seed: int | None = None, fractions: Sequence[float] = DEFAULT_FRACTIONS,
             simulations: int = 500, seed: int = 0, level: float = 0.9, arrival_calibrated: bool = False,
             correct_bias: bool = False, completion_adjustment: bool = True) -> BacktestResult:
    """Replay ``frame`` (a final count) in the order of column ``order`` (ties broken by
    unit), or in a random order drawn with ``random_seed``, projecting at each fraction.

    ``arrival_calibrated``: widen each projection by its own replay errors on the counted
    part's arrival order (see :func:`~escrutinio.dynamics.projection.arrival_errors`).
    """
    choices = list(choices)
    if order is None:
        if random_seed is None:
            raise UsageError("give an arrival-order column or a seed for a random order")
        rng = np.random.default_rng(random_seed)
        frame = frame.with_columns(pl.Series("_order", rng.permutation(frame.height)))
        order, label = "_order", f"random (seed {random_seed})"
    else:
        if order not in frame.columns:
            raise UsageError(f"no column {order!r}")
        label = order
    f = frame.sort([order, "unit"])
    roll = f.select([c for c in ("unit", *levels, "registered") if c in f.columns])
    tot = f.select([pl.col(c).sum() for c in choices]).row(0)
    o = np.argsort(tot)[::-1]
    pair = [choices[o[0]], choices[o[1]]]
    final_lead, _ = _truth(f, choices, pair)
    rows = []
    for fr in fractions:
        n = int(round(f.height * fr / 100))
        if n <= 0 or n >= f.height:
            continue
        part = f.head(n)
        kw = dict(arrival=order, correct_bias=correct_bias) if arrival_calibrated else {}
        r = project(part, roll, choices, levels=levels, simulations=simulations, seed=seed, level=level,
                    completion_adjustment=completion_adjustment, **kw)
        ia, ib = r.channels.index(pair[0]), r.channels.index(pair[1])
        # the lead of the fixed final pair, from the same draws
        d = r.draws
        ctot = part.select([pl.col(c).sum() for c in r.channels]).row(0)
        fin = d + np.asarray(ctot, dtype=np.float64)[None, :]
        lead = 100 * (fin[:, ia] - fin[:, ib]) / fin[:, : len(choices)].sum(axis=1)
        q = (1 - level) / 2
        lo, hi = np.quantile(lead, [q, 1 - q])
        point = float(np.mean(lead))
        cl, _ = _truth(part, choices, pair)
        rows.append(BacktestRow(counted_pct=float(fr), counted_tables=n, counted_lead=cl, projected_lead=point,
                                lo=float(lo), hi=float(hi), final_lead=final_lead, error=point - final_lead,
                                covered=bool(lo <= final_lead <= hi),
                                p_first_round=float(r.outcome_probabilities.get("first_round_win", float("nan")))))
    cov = float(np.mean([r.covered for r in rows])) if rows else float("nan")
    mae = float(np.mean([abs(r.error) for r in rows])) if rows else float("nan")
    return BacktestResult(order=label, level=level, simulations=simulations, lead_pair=pair, final_lead=final_lead,
                          rows=rows, coverage=cov, mean_abs_error=mae)


@dataclass
class CalibrationResult:
    level: float
    elections: int
    cut: float
    covered: int
    coverage: float
    p_value: float
    share_coverage: dict[str, float]
    mean_abs_error: float
    simulations: int
    caveat: str = ("Simulated elections follow their generator: late areas differ between areas and, with a "
                   "place effect, slow places differ within them. Real counts can differ in other ways, "
                   "as the 2019 backtest shows.")

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"Calibration on {self.elections} simulated elections, {self.cut:.0f}% counted, "
                f"{100 * self.level:.0f}% intervals: lead covered {self.covered}/{self.elections} "
                f"({100 * self.coverage:.1f}%), exact binomial p = {self.p_value:.3f}; share coverage "
                + ", ".join(f"{c} {100 * v:.1f}%" for c, v in self.share_coverage.items())
                + f"; mean |lead error| {self.mean_abs_error:.2f} points\n  caveat: {self.caveat}")


def _binom_two_sided(k: int, n: int, p: float) -> float:
    from scipy import stats

    return float(stats.binomtest(k, n, p).pvalue)


def calibration(elections: int = 100, *, seed: int = 0, cut: float = 60.0, level: float = 0.9,
                simulations: int = 300, arrival_calibrated: bool = False, correct_bias: bool = False,
                completion_adjustment: bool = True, **sim_kw) -> CalibrationResult:
    """Coverage of the projection's intervals on simulated elections with known truth
    (``sim_kw`` goes to :func:`simulated_election`)."""
    choices = list(SIM_CHOICES)
    hits, errs = 0, []
    share_hits = {c: 0 for c in choices}
    for e in range(elections):  # each election is a full vectorised projection
        f = simulated_election(seed * 100003 + e, **sim_kw).sort("arrival")
        n = int(round(f.height * cut / 100))
        part = f.head(n)
        roll = f.select("unit", *SIM_LEVELS, "registered")
        kw = dict(arrival="arrival", correct_bias=correct_bias) if arrival_calibrated else {}
        r = project(part, roll, choices, levels=SIM_LEVELS, simulations=simulations, seed=e, level=level,
                    completion_adjustment=completion_adjustment, **kw)
        truth_lead, truth_sh = _truth(f, choices, r.lead_pair)
        hits += r.lead["lo"] <= truth_lead <= r.lead["hi"]
        errs.append(r.lead["point"] - truth_lead)
        for c in choices:
            share_hits[c] += r.shares[c]["lo"] <= truth_sh[c] <= r.shares[c]["hi"]
    return CalibrationResult(level=level, elections=elections, cut=cut, covered=int(hits),
                             coverage=hits / elections, p_value=_binom_two_sided(int(hits), elections, level),
                             share_coverage={c: v / elections for c, v in share_hits.items()},
                             mean_abs_error=float(np.mean(np.abs(errs))), simulations=simulations)


@dataclass
class SnapshotBacktest:
    """A real count order rebuilt from successive exports: each export projects the last
    export's totals over the last export's tables (the latest truth the exports show)."""

    final_label: str
    final_tables: int
    choice: str
    final_share: float
    final_lead: float
    lead_pair: list[str]
    rows: list[dict]
    coverage: dict[str, float]
    notes: list[str] = field(default_factory=list)
    caveat: str = ("The exports stop before the count did: the truth here is the last export's tables, which "
                   "are themselves urban-heavy; the figures show the order's effect, not the final result's.")

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        a, b = self.lead_pair
        lines = [f"Backtest in the real order of the exports: truth = {self.final_label} ({self.final_tables:,} tables), "
                 f"{self.choice} {self.final_share:.2f}%, lead {a} - {b} {self.final_lead:.2f}",
                 f"  {'export':<22} {'tables':>7} {'new':>6} {'share [95%]':>24} {'90%':>4} {'95%':>4} "
                 f"{'lead [95%]':>24} {'P(winner)':>9}"]
        for r in self.rows:
            lines.append(f"  {r['label']:<22} {r['tables']:>7,} {r['new']:>6,} {r['share']:>7.2f} "
                         f"[{r['lo95']:>6.2f}, {r['hi95']:>6.2f}] {'yes' if r['cover90'] else 'NO':>4} "
                         f"{'yes' if r['cover95'] else 'NO':>4} {r['lead']:>7.2f} [{r['lead_lo95']:>6.2f}, "
                         f"{r['lead_hi95']:>6.2f}] {r['p_winner']:>9.3f}")
        lines.append("  coverage: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in self.coverage.items()))
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


def backtest_snapshots(snapshots: Sequence, roll: pl.DataFrame, levels: Sequence[str], *, choice: str | None = None,
                       strata: Sequence[str] | None = None, previous=None, simulations: int = 1000, seed: int = 0,
                       covariates: Sequence[str] = ()) -> SnapshotBacktest:
    """Backtest in the real order given by successive cumulative exports (oldest first):
    the tables new in each export arrived after the previous one. The last export is the
    truth; each earlier export is projected onto the last export's tables only."""
    if len(snapshots) < 2:
        raise UsageError("a backtest in real order needs at least two exports")
    last = snapshots[-1]
    key = "unit_id" if all("unit_id" in s.frame.columns and s.frame["unit_id"].null_count() == 0 for s in snapshots) else "unit"
    universe = last.counted()
    choices = list(last.counted_choices)
    sub_roll = roll.join(universe.select(pl.col(key).cast(roll[key].dtype)), on=key, how="semi")
    tot = universe.select([pl.col(c).sum() for c in choices]).to_numpy().ravel().astype(np.float64)
    order = np.argsort(-tot)
    pair = [choices[order[0]], choices[order[1]]]
    choice = choice or pair[0]
    ic, ia, ib = choices.index(choice), choices.index(pair[0]), choices.index(pair[1])
    final_share = 100 * tot[ic] / tot.sum()
    final_lead = 100 * (tot[ia] - tot[ib]) / tot.sum()
    rows, seen = [], None
    notes = []
    for s in snapshots[:-1]:
        part = s.counted().join(universe.select(key), on=key, how="semi")
        dropped = s.n_units - part.height
        if dropped:
            notes.append(f"{s.label or s.source}: {dropped} tables not in the last export are left out")
        ids = set(part[key].to_list())
        new = len(ids - seen) if seen is not None else len(ids)
        seen = ids
        r = project(part, sub_roll, choices, levels=levels, simulations=simulations, seed=seed, level=0.95,
                    previous=previous, strata=strata, covariates=covariates)
        fin = r.draws + part.select([pl.col(c).sum() for c in r.channels]).to_numpy().ravel()[None, :]
        v = fin[:, : len(choices)].sum(axis=1)
        sh = 100 * fin[:, ic] / v
        lead = 100 * (fin[:, ia] - fin[:, ib]) / v
        row = {"label": str(s.label or s.source), "tables": part.height, "new": new, "share": float(sh.mean()),
               "lead": float(lead.mean()),
               "p_winner": float(np.mean(fin[:, ia] >= fin[:, : len(choices)].max(axis=1)))}
        for lvl in (90, 95):
            q = (1 - lvl / 100) / 2
            lo, hi = np.quantile(sh, [q, 1 - q])
            llo, lhi = np.quantile(lead, [q, 1 - q])
            row.update({f"lo{lvl}": float(lo), f"hi{lvl}": float(hi), f"cover{lvl}": bool(lo <= final_share <= hi),
                        f"lead_lo{lvl}": float(llo), f"lead_hi{lvl}": float(lhi),
                        f"lead_cover{lvl}": bool(llo <= final_lead <= lhi)})
        rows.append(row)
    cov = {k: float(np.mean([r[k] for r in rows])) for k in ("cover90", "cover95", "lead_cover90", "lead_cover95")}
    return SnapshotBacktest(final_label=str(last.label or last.source), final_tables=universe.height, choice=choice,
                            final_share=float(final_share), final_lead=float(final_lead), lead_pair=pair, rows=rows,
                            coverage=cov, notes=notes)
