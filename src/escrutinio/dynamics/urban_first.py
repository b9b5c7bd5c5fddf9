"""Simulated elections counted urban-first, and the calibration study of the projection on them.

Why: in Bolivia (2019 and 2020) cities and the vote abroad were counted first and rural
places last, and rural places voted very differently (MAS: about 37% of registered voters
in metropolitan places in 2019, 51% in connected rural places, 61% in isolated rural
places). A projection that is calibrated when tables arrive at random can be confidently
wrong in that order. This generator gives every polling place an area type
(``metropol``, ``periurbano``, ``ruralconect``, ``ruralaislado``) with an urban-rural
difference in the vote that itself varies by department, and a count order that reaches
urban places first; within an area type, remote municipalities come later and lean the
same way as rural places. The truth is known, so interval coverage and the calibration of
verdict probabilities (reliability diagram, Brier score; Brier 1950) can be measured.

Null hypothesis of the study: the nominal coverage is the true coverage (exact binomial
p-value). Caveat: a simulation shows calibration *under its generator*; the generator is
Bolivia-like in its structure, not fitted to the bundled exports.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import polars as pl

from escrutinio.dynamics.backtest import ballots
from escrutinio.dynamics.geography import EARTH_KM_PER_DEGREE, REMOTENESS_COVARIATE, with_voters_within
from escrutinio.dynamics.projection import bolivia_outcomes, canonical, project

AREAS = ("metropol", "periurbano", "ruralconect", "ruralaislado")
UF_CHOICES = ("A", "B", "C")
UF_LEVELS = ("department", "municipality", "polling_place")
UF_STRATA = ("area", "department", "municipality")
# lean of each area type towards choice A on the logit scale (Bolivia-like: rural places
# much more for one party), and its position in the count order (urban first)
AREA_LEAN = np.array([0.0, 0.35, 1.0, 1.4])
AREA_ORDER = np.array([0.0, 0.6, 1.6, 2.4])
# spread (km) of a municipality's places of each area type around its town
PLACE_SPREAD_KM = np.array([1.5, 4.0, 12.0, 30.0])


def simulated_urban_first(seed: int = 0, *, departments: int = 6, municipalities: int = 8,
                          places: int = 10, mean_tables: float = 3.0, lean_spread: float = 0.4,
                          remote_effect: float = 0.4) -> pl.DataFrame:
    """One synthetic election (a row per table) with area types and an urban-first
    ``arrival`` rank. ``lean_spread``: how much the urban-rural difference varies between
    departments (relative). ``remote_effect``: within an area type, remote municipalities
    are counted later and lean to A by this much (logit)."""
    rng = np.random.default_rng(seed)
    # positions from their own stream, so that the votes and the order are the same with
    # or without them
    geo = np.random.default_rng([seed, 1])
    k = len(UF_CHOICES) + 2
    base = np.array([rng.normal(-0.9, 0.4), 0.0, -1.2, -3.5, -3.0])
    rows = {"department": [], "municipality": [], "polling_place": [], "area": []}
    eff, arrival, xy, where = [], [], [], []
    for d in range(departments):
        ed = rng.normal(0, 0.35, k)
        lean = AREA_LEAN * np.exp(rng.normal(0, lean_spread))  # urban-rural gap varies by department
        centre_d = geo.uniform(0, 1500, 2)
        for m in range(municipalities):
            rurality = rng.random()
            remote = rng.random()
            # remote municipalities lie farther from their department's centre
            centre_m = centre_d + geo.normal(0, 40 + 120 * remote, 2)
            em = ed + rng.normal(0, 0.2, k)
            em[0] += remote_effect * remote
            # a rural municipality has more rural places
            probs = np.array([1.2 * (1 - rurality) ** 2, 1.0, 1.5 * rurality, 0.8 * rurality ** 2])
            types = rng.choice(4, size=places, p=probs / probs.sum())
            for p in range(places):
                a = int(types[p])
                ep = em + rng.normal(0, 0.12, k)
                ep[0] += lean[a]
                ep[1] -= 0.5 * lean[a]
                nt = 1 + rng.poisson((mean_tables - 1) * (1.6 if a == 0 else 0.7 if a == 3 else 1.0))
                t_place = AREA_ORDER[a] + 0.8 * remote + rng.normal(0, 0.4)
                # urban places sit close together around the town, rural ones spread out;
                # how far is only loosely tied to the vote (through area type and remoteness)
                pos = centre_m + geo.normal(0, PLACE_SPREAD_KM[a] * (1 + remote) * np.exp(geo.normal(0, 0.5)), 2)
                for t in range(nt):
                    rows["department"].append(f"D{d}")
                    rows["municipality"].append(f"D{d}M{m}")
                    rows["polling_place"].append(f"D{d}M{m}P{p}")
                    rows["area"].append(AREAS[a])
                    eff.append(ep + rng.normal(0, 0.05, k))
                    arrival.append(t_place + rng.normal(0, 0.1))
                    xy.append(pos)
                    where.append((d, d * municipalities + m, a, remote))
    eff = np.asarray(eff) + base
    f = ballots(rng, eff, rows, UF_CHOICES, arrival)
    xy = np.asarray(xy) / EARTH_KM_PER_DEGREE  # near the equator a degree is the same both ways
    f = f.with_columns(pl.Series("lat", xy[:, 1]), pl.Series("lon", xy[:, 0]))
    return f.with_columns(_previous_election(np.random.default_rng([seed, 2]), eff, rows, np.asarray(where)))


# How the previous election differs (logit, per channel): nationally, by area type, by
# department, by municipality, with remoteness, and by place. The swing by area type and
# with remoteness is what the urban tables counted first cannot show
SWING_SD = {"national": 0.3, "area": 0.2, "department": 0.12, "municipality": 0.08, "remote": 0.3, "place": 0.06}


def _previous_election(rng: np.random.Generator, eff: np.ndarray, rows: dict, where: np.ndarray) -> list[pl.Series]:
    """Per table, its polling place's rates per registered voter in a previous election
    (``prev_<channel>``): the same places, voters who swung by :data:`SWING_SD`, counted
    in full. From its own random stream: the election itself does not change."""
    n, k = eff.shape
    dept, muni, area = where[:, 0].astype(int), where[:, 1].astype(int), where[:, 2].astype(int)
    remote = where[:, 3]
    place = pl.Series(rows["polling_place"]).cast(pl.Categorical).to_physical().to_numpy().astype(int)
    sw = (rng.normal(0, SWING_SD["national"], k)
          + rng.normal(0, SWING_SD["area"], (len(AREAS), k))[area]
          + rng.normal(0, SWING_SD["department"], (dept.max() + 1, k))[dept]
          + rng.normal(0, SWING_SD["municipality"], (muni.max() + 1, k))[muni]
          + rng.normal(0, SWING_SD["remote"], k)[None, :] * remote[:, None]
          + rng.normal(0, SWING_SD["place"], (place.max() + 1, k))[place])
    before = ballots(rng, eff - sw, rows, UF_CHOICES, np.zeros(n))
    chans = [*UF_CHOICES, "blank", "null"]
    rate = before.group_by("polling_place").agg(*[(pl.col(c).sum() / pl.col("registered").sum()).alias(f"prev_{c}")
                                                  for c in chans])
    per_table = pl.DataFrame({"polling_place": rows["polling_place"]}).join(rate, on="polling_place", how="left",
                                                                            maintain_order="left")
    return [per_table[f"prev_{c}"] for c in chans]


def with_remoteness(frame: pl.DataFrame) -> pl.DataFrame:
    """A simulated election (or roll) with the registered voters within 5 km of each
    table's polling place, from its coordinates (:mod:`escrutinio.dynamics.geography`)."""
    return with_voters_within(frame, "polling_place")


@dataclass
class UrbanFirstStudy:
    """Coverage and probability calibration of one projection model on urban-first elections."""

    model: str
    elections: int
    cuts: list[float]
    simulations: int
    coverage: dict[str, dict[str, float]]  # cut -> {"share90", "share95", "lead90", "lead95"}
    mean_abs_error: dict[str, float]  # cut -> points of A's share
    brier: float  # P(first-round win) against the outcome under the law
    brier_winner: float  # P(A wins)
    reliability: list[dict]  # bins of P(first-round win): mean predicted, observed frequency, count
    wrong_winner_p90: int  # projections giving the wrong winner P >= 0.9
    projections: int
    extrapolated_share: dict[str, float]  # cut -> mean share of uncounted voters in strata with < k counted
    notes: list[str] = field(default_factory=list)
    caveat: str = ("Simulated elections follow their generator (Bolivia-like structure: area types, an "
                   "urban-rural gap that varies by department, urban-first order); real counts can differ.")

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        lines = [f"Urban-first calibration, model {self.model}: {self.elections} simulated elections, "
                 f"{self.simulations} simulations each"]
        lines.append(f"  {'counted%':>8} {'A share 90%':>12} {'A share 95%':>12} {'lead 90%':>9} {'lead 95%':>9} "
                     f"{'mean |err|':>10} {'extrapolated':>12}")
        for c in self.cuts:
            k = f"{c:g}"
            cv = self.coverage[k]
            lines.append(f"  {c:>8g} {100 * cv['share90']:>11.1f}% {100 * cv['share95']:>11.1f}% "
                         f"{100 * cv['lead90']:>8.1f}% {100 * cv['lead95']:>8.1f}% {self.mean_abs_error[k]:>10.2f} "
                         f"{100 * self.extrapolated_share[k]:>11.1f}%")
        lines.append(f"  Brier score P(first-round win) {self.brier:.4f}, P(A wins) {self.brier_winner:.4f}; "
                     f"wrong winner with P >= 0.9: {self.wrong_winner_p90} of {self.projections}")
        lines.append("  reliability of P(first-round win): " + "; ".join(
            f"[{b['lo']:.1f},{b['hi']:.1f}) predicted {b['predicted']:.2f} observed {b['observed']:.2f} (n={b['n']})"
            for b in self.reliability if b["n"]))
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


def urban_first_study(elections: int = 60, *, cuts: Sequence[float] = (10, 25, 50), model: str = "multilevel",
                      simulations: int = 400, seed: int = 0, selection_r: float | None = None,
                      remoteness: bool = False, previous: bool = False, roll_only: bool = False,
                      **sim_kw) -> UrbanFirstStudy:
    """Project each simulated election from its first ``cut``% of tables in urban-first
    order, with the multilevel model by stratum (``model="multilevel"``) or the
    geographic hot deck (``model="hotdeck"``), and score intervals and probabilities.
    ``remoteness``: the multilevel model also adjusts for the voters within 5 km of each
    place, from the simulated coordinates (and takes the selection prior measured net of it).
    ``previous``: the model also has each place's result in a previous election (the swing
    model), simulated with swings by area type, department, municipality, remoteness and
    place (:data:`SWING_SD`).
    ``roll_only``: no area type (as ``project`` without ``--places``): the strata are the
    settlement size class from the roll (:mod:`escrutinio.dynamics.representativeness`) x
    department x municipality, with the selection prior measured in those strata."""
    choices = list(UF_CHOICES)
    cov = {f"{c:g}": {"share90": 0, "share95": 0, "lead90": 0, "lead95": 0} for c in cuts}
    err = {f"{c:g}": [] for c in cuts}
    ext = {f"{c:g}": [] for c in cuts}
    p_first, y_first, p_win, y_win = [], [], [], []
    wrong = 0
    for e in range(elections):
        f = simulated_urban_first(seed * 100003 + e, **sim_kw).sort("arrival")
        if remoteness:
            f = with_remoteness(f)
        prev = None
        if previous:
            f = f.with_columns(pl.col("polling_place").alias("place_id"))
            prev = f.group_by("place_id").agg(*[pl.col(f"prev_{c}").first().alias(f"prev:{canonical(c)}")
                                               for c in [*UF_CHOICES, "blank", "null"]])
        roll = f.select("unit", *UF_LEVELS, *(["place_id"] if previous else []), "area", "registered",
                        *([REMOTENESS_COVARIATE] if remoteness else []))
        tot = f.select([pl.col(c).sum() for c in choices]).to_numpy().ravel()
        valid = tot.sum()
        truth_a = 100 * tot[0] / valid
        truth_first = bolivia_outcomes(tot[None, :])[0] == "first_round_win"
        a_wins = tot[0] == tot.max()
        for c in cuts:
            n = int(round(f.height * c / 100))
            part = f.head(n)
            if roll_only:
                from escrutinio.dynamics.multilevel import SELECTION_R_SETTLEMENT
                from escrutinio.dynamics.representativeness import SETTLEMENT, settlement_classes

                kw = dict(strata=[SETTLEMENT, "department", "municipality"], model="multilevel",
                          selection_r=SELECTION_R_SETTLEMENT if selection_r is None else selection_r)
                r = project(part, settlement_classes(roll.drop("area"), UF_LEVELS), choices, levels=UF_LEVELS,
                            simulations=simulations, seed=e, level=0.95, previous=prev, **kw)
            kw = (dict(strata=list(UF_STRATA), model="multilevel", selection_r=selection_r,
                       covariates=[REMOTENESS_COVARIATE] if remoteness else ()) if model == "multilevel"
                  else dict(model="hotdeck"))
            if not roll_only:
                r = project(part, roll, choices, levels=UF_LEVELS, simulations=simulations, seed=e, level=0.95,
                            previous=prev, **kw)
            fin = r.draws + part.select([pl.col(x).sum() for x in r.channels]).to_numpy().ravel()[None, :]
            v = fin[:, :3].sum(axis=1)
            share_a = 100 * fin[:, 0] / v
            second = np.sort(tot)[-2]
            ib = int(np.flatnonzero(tot == second)[0]) if tot[0] == tot.max() else int(np.argmax(tot))
            lead = 100 * (fin[:, 0] - fin[:, ib]) / v
            truth_lead = 100 * (tot[0] - tot[ib]) / valid
            k = f"{c:g}"
            for lvl, name in ((0.90, "90"), (0.95, "95")):
                q = (1 - lvl) / 2
                lo, hi = np.quantile(share_a, [q, 1 - q])
                cov[k]["share" + name] += lo <= truth_a <= hi
                lo, hi = np.quantile(lead, [q, 1 - q])
                cov[k]["lead" + name] += lo <= truth_lead <= hi
            err[k].append(abs(float(share_a.mean()) - truth_a))
            ext[k].append(r.extrapolation["share_few"] if r.extrapolation else float("nan"))
            pf = r.outcome_probabilities.get("first_round_win", 0.0)
            p_first.append(pf)
            y_first.append(float(truth_first))
            wins_a = np.mean(fin[:, 0] >= fin[:, :3].max(axis=1))
            p_win.append(float(wins_a))
            y_win.append(float(a_wins))
            wrong += (wins_a >= 0.9 and not a_wins) or (wins_a <= 0.1 and a_wins)
    p_first, y_first, p_win, y_win = map(np.asarray, (p_first, y_first, p_win, y_win))
    bins = []
    edges = np.linspace(0, 1, 11)
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (p_first >= lo) & ((p_first < hi) if hi < 1 else (p_first <= hi))
        bins.append({"lo": float(lo), "hi": float(hi), "n": int(sel.sum()),
                     "predicted": float(p_first[sel].mean()) if sel.any() else float("nan"),
                     "observed": float(y_first[sel].mean()) if sel.any() else float("nan")})
    return UrbanFirstStudy(
        model=(model if model != "multilevel" else "multilevel" + (", roll only (settlement size)" if roll_only else "")
               + (", voters within 5 km" if remoteness else "")
               + (", previous election" if previous else "")
               + (f", selection r {selection_r:g}" if selection_r is not None else "")),
        elections=elections, cuts=[float(c) for c in cuts], simulations=simulations,
        coverage={k: {kk: vv / elections for kk, vv in v.items()} for k, v in cov.items()},
        mean_abs_error={k: float(np.mean(v)) for k, v in err.items()},
        brier=float(np.mean((p_first - y_first) ** 2)), brier_winner=float(np.mean((p_win - y_win) ** 2)),
        reliability=bins, wrong_winner_p90=int(wrong), projections=int(p_first.size),
        extrapolated_share={k: float(np.nanmean(v)) for k, v in ext.items()})
