"""Projection (nowcast) of a final result from a partial count.

Method: hierarchical hot-deck imputation with a nested (cluster) bootstrap.

Every expected table comes from the roll (identity, geography, registered voters). Each
table not yet counted is imputed from counted tables that are geographically closest,
walking up the hierarchy polling place -> locality -> municipality -> province ->
department -> country, as CEPR (Long, Rosnick et al., "What happened in Bolivia's 2019
vote count?", Nov 2019) and Curiel & Williams ("Bolivia Dispute Election in 2019",
MIT Election Data and Science Lab, Feb 2020) did. Matching by place, not assuming the
uncounted look like the counted average, is what absorbs non-random arrival: late areas
differ (Idrobo, Kronick & Rodríguez, J. Politics 84(4), 2022).

Uncertainty, per simulation:

1. *Anchor.* An uncounted table's anchor is its deepest ancestor with at least
   ``min_donors`` counted children (tables for a polling place, places for a locality,
   ...). The anchor's counted children estimate its mean, so the child that the table
   descends through is given a donor drawn from a **bootstrap resample** of the anchor's
   counted children, shared by every uncounted node of that anchor in the simulation.
   Sharing one resample is what makes uncounted siblings correlated, so the spread of the
   simulated total includes the uncertainty of the group mean (variance ~ m sigma^2 +
   m^2 sigma^2 / n for m uncounted among n counted), not only table-to-table noise.
2. *Structure below the anchor.* Below the anchor, each uncounted node takes a donor
   drawn uniformly among the counted children of its parent's donor (a donor locality,
   then one of its places, then one of its tables): an uncounted polling place inherits
   the between-table spread of a real place, and its tables stay correlated.
3. *Table.* The uncounted table receives the donor table's rates per registered voter
   (each choice, blank, null) times its own registered voters from the roll. The donor's
   rates already carry its sampling noise, so no separate multinomial term is added.

4. *Slow places.* Geography alone assumes that, within an area, a polling place with no
   counted table votes like the counted places. When places that report slowly vote
   differently, that fails: in Bolivia 2019 the places still missing at 19:40 were more
   for MAS than the counted places of their municipality, and the geography-only interval
   ([10.26, 10.46]) misses the final 10.56. Every place's *completion* (share of its
   registered voters counted) measures how slowly it reports, so the within-area slope
   of rates on completion is tested (H0: no slope; per-channel t, Bonferroni); only when p < 0.01 are
   wholly uncounted places (completion 0) shifted along it, with the slope redrawn per
   simulation and shrunk by empirical Bayes. See :func:`_completion_shift`.

Null hypothesis: none for the projection itself (it is an estimator); the slow-place
adjustment reports its own test. Statistic: projected totals per choice
and the lead (points of valid votes between the two leading choices of the point
estimate). Interval: simulation quantiles (equal-tailed). Verdict probabilities: the law
(Bolivia, art. 166 of the Constitution: first-round win with more than 50% of valid
votes, or at least 40% and 10 points ahead of the second) applied to each simulation's
integer totals with exact integer comparisons.

Caveat, in plain words: the projection assumes the uncounted tables in a place vote like
the counted tables of the same place (or of the nearest area with enough counted
tables). If whole areas that vote differently are missing, or if counted numbers change
later, the projection can be wrong with confidence. It is an expectation, not a count.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import polars as pl

from escrutinio.dynamics.geography import REMOTENESS_COVARIATE
from escrutinio.errors import UsageError

CAVEAT_MULTILEVEL = (
    "A projection is an expectation of what the uncounted tables will show, made from counted tables of the same "
    "strata (area type, department, municipality) and what is known of every uncounted place; it is not a count. "
    "Strata with few or no counted tables are extrapolated, with their uncertainty taken from the variation between "
    "strata. The interval allows for a count order that favours some voters inside strata, by as much as real count "
    "orders have; an order more selective than that, in a direction no stratum or covariate shows, remains a bias. "
    "It says nothing about fraud."
)
CAVEAT = (
    "A projection is an expectation of what the uncounted tables will show, made from counted tables "
    "nearby; it is not a count. It assumes uncounted tables vote like counted ones in the same place "
    "(or the nearest area with enough counted tables), shifted for slow-reporting places only when a test "
    "shows that they differ. It says nothing about fraud."
)


# ----------------------------------------------------------------------------- law
def bolivia_outcomes(totals: np.ndarray) -> np.ndarray:
    """Vectorised art. 166 on integer totals (simulations x valid choices).

    Returns an array of 'first_round_win' / 'runoff'. Exact integer arithmetic: share > 50%
    is ``2*top > valid``; share >= 40% is ``10*top >= 4*valid``; lead >= 10 points is
    ``10*(top - second) >= valid``.
    """
    t = np.asarray(totals, dtype=np.int64)
    if t.shape[1] < 2:
        return np.full(t.shape[0], "first_round_win", dtype=object)
    part = -np.partition(-t, 1, axis=1)
    top, second = part[:, 0], part[:, 1]
    valid = t.sum(axis=1)
    win = (2 * top > valid) | ((10 * top >= 4 * valid) & (10 * (top - second) >= valid))
    return np.where(win, "first_round_win", "runoff").astype(object)


def rule_outcomes(rule, totals: np.ndarray) -> np.ndarray:
    """Vectorised :class:`escrutinio.law.presidential.PresidentialRule` on integer totals
    (simulations x valid choices): every clause is compared on integers, ``q*top >= p*valid``
    for a share line ``p/q``, so no float rounding decides an outcome."""
    from fractions import Fraction

    t = np.asarray(totals, dtype=np.int64)
    part = -np.partition(-t, 1, axis=1) if t.shape[1] > 1 else np.hstack([t, np.zeros_like(t)])
    top, second = part[:, 0], part[:, 1]
    valid = t.sum(axis=1)
    if getattr(rule, "kind", "threshold") == "plurality" or not rule.clauses:
        return np.where(top > second, "winner", "tie").astype(object)
    win = np.zeros(t.shape[0], bool)
    for c in rule.clauses:
        p = Fraction(c.min_share)
        lhs, rhs = p.denominator * top, p.numerator * valid
        ok = lhs > rhs if c.share_strict else lhs >= rhs
        if c.min_lead is not None:
            q = Fraction(c.min_lead)
            l_lhs, l_rhs = q.denominator * (top - second), q.numerator * valid
            ok &= (l_lhs > l_rhs) if c.lead_strict else (l_lhs >= l_rhs)
        win |= ok
    return np.where(win, "first_round_win", "runoff").astype(object)


def _law_rule(rule) -> Callable[[np.ndarray], np.ndarray]:
    if rule is None or rule == "bolivia":
        try:
            from escrutinio.law import presidential

            preset = presidential.preset("bolivia")
            return lambda t: rule_outcomes(preset, t)
        except Exception:  # the law module is optional for this capability
            return bolivia_outcomes
    if isinstance(rule, str):
        from escrutinio.law import presidential

        preset = presidential.preset(rule)
        return lambda t: rule_outcomes(preset, t)
    if hasattr(rule, "clauses"):
        return lambda t: rule_outcomes(rule, t)
    if callable(rule):
        return rule
    raise UsageError(f"unknown rule {rule!r}")


# ----------------------------------------------------------------------- hierarchy
def hierarchy(roll: pl.DataFrame, levels: Sequence[str] | None = None) -> tuple[list[str], pl.DataFrame]:
    """Hierarchy key columns (coarse -> fine, last = polling place) for a roll.

    Names path when the roll has level names (2019: the TREP has no place id, so places
    are matched by country/department/.../polling_place name); otherwise the 16-digit
    Bolivian place id and its prefixes (country, department, locality).
    """
    cols = []
    exprs = []
    named = [lv for lv in (levels or ()) if lv in roll.columns and roll[lv].null_count() < roll.height]
    if named:
        for i, lv in enumerate(named):
            exprs.append(pl.concat_str([pl.col(c).fill_null("") for c in named[: i + 1]], separator="|").alias(f"_h_{lv}"))
            cols.append(f"_h_{lv}")
    elif "place_id" in roll.columns and roll["place_id"].null_count() < roll.height:
        pid = pl.col("place_id").fill_null("")
        if roll["place_id"].drop_nulls().str.len_chars().eq(16).all():
            for name, n in (("country", 5), ("department", 7), ("locality", 11)):
                exprs.append(pid.str.slice(0, n).alias(f"_h_{name}"))
                cols.append(f"_h_{name}")
        exprs.append(pid.alias("_h_polling_place"))
        cols.append("_h_polling_place")
    else:
        raise UsageError("the roll has neither geographic level names nor polling-place ids: cannot match tables")
    return cols, roll.with_columns(exprs)


SIZE_BREAKS = (1, 3, 8)  # tables per polling place: 1 | 2-3 | 4-8 | 9+


def _size_strata(hcols: list[str], rollh: pl.DataFrame) -> tuple[list[str], pl.DataFrame]:
    """Insert a place-size class (tables per polling place in the roll) above the
    locality level: a wholly uncounted polling place is then imputed from counted places
    of the same size class in its area. Why: in Bolivia 2019 the late places were small
    and rural and voted differently from the large urban places of the same municipality
    (Idrobo, Kronick & Rodríguez 2022); size is known for every place from the roll."""
    place = hcols[-1]
    n = pl.len().over(place)
    sz = (pl.when(n <= SIZE_BREAKS[0]).then(pl.lit("s1")).when(n <= SIZE_BREAKS[1]).then(pl.lit("s2"))
          .when(n <= SIZE_BREAKS[2]).then(pl.lit("s3")).otherwise(pl.lit("s4")))
    at = len(hcols) - 2  # position of the level just above the place (locality)
    rollh = rollh.with_columns(sz.alias("_sz"))
    new = hcols[:at] + ["_h_size"]
    exprs = [pl.concat_str([pl.col(hcols[at - 1]), pl.col("_sz")], separator="|").alias("_h_size")]
    for c in hcols[at:-1]:
        exprs.append(pl.concat_str([pl.col(c), pl.col("_sz")], separator="|").alias(c))
    return new + hcols[at:], rollh.with_columns(exprs)


def _who_leads(a: str, b: str, lead: float) -> str:
    """'CC leads MAS_IPSP by 21.70 points', never 'lead MAS_IPSP over CC -21.70'."""
    if round(lead, 2) == 0:
        return f"{a} and {b} tied (lead {abs(lead):.2f} points)"
    first, second = (a, b) if lead > 0 else (b, a)
    return f"{first} leads {second} by {abs(lead):.2f} points"


def canonical(name: str) -> str:
    """Choice names across elections and sources: 'MAS - IPSP' == 'MAS_IPSP' == 'mas-ipsp'."""
    return "".join(ch for ch in str(name).upper() if ch.isalnum())


def previous_place_rates(previous: pl.DataFrame, choices: Sequence[str]) -> pl.DataFrame:
    """Per polling place of a previous election: votes per registered voter for each
    choice, blank and null (``place_id`` + ``prev:<canonical name>`` columns)."""
    if "place_id" not in previous.columns or previous["place_id"].null_count() == previous.height:
        raise UsageError("the previous election has no polling-place ids to match on")
    chans = [*choices, "blank", "null"]
    g = previous.group_by("place_id").agg([pl.col(c).sum() for c in chans] + [pl.col("registered").sum()])
    g = g.filter(pl.col("registered") > 0)
    return g.select("place_id", *[(pl.col(c) / pl.col("registered")).alias(f"prev:{canonical(c)}") for c in chans])


def _previous_rates(joined: pl.DataFrame, previous: pl.DataFrame, channels: Sequence[str], hcols: list[str]):
    """Previous-election rates for every roll table (tables x channels), matched by
    polling place; a place new since then takes the registered-weighted rate of its
    nearest area that has one."""
    if "place_id" not in joined.columns:
        raise UsageError("the roll has no polling-place ids: cannot use a previous election")
    prev = previous if any(c.startswith("prev:") for c in previous.columns) else None
    if prev is None:
        raise UsageError("previous must come from previous_place_rates()")
    have = {c.removeprefix("prev:") for c in prev.columns if c.startswith("prev:")}
    matched = [c for c in channels if canonical(c) in have]
    cols = [f"prev:{canonical(c)}" for c in matched]
    j = joined.select("place_id", "registered", *hcols).join(prev.select("place_id", *cols), on="place_id", how="left")
    filled = int(j[cols[0]].null_count()) if cols else 0
    for h in reversed(hcols[:-1]):
        def area(c: str) -> pl.Expr:
            return ((pl.col(c) * pl.col("registered")).sum().over(h)
                    / pl.col("registered").filter(pl.col(c).is_not_null()).sum().over(h)).fill_nan(None)

        j = j.with_columns([pl.coalesce(pl.col(c), area(c)).alias(c) for c in cols])
    j = j.with_columns([pl.col(c).fill_null(strategy="mean") for c in cols])
    P = np.zeros((joined.height, len(channels)))
    for c, col in zip(matched, cols):
        P[:, channels.index(c)] = j[col].to_numpy()
    return P, matched, filled


def roll_levels_2020(roll: pl.DataFrame, places: pl.DataFrame | None = None) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Geography for an id-only roll (Bolivia 2020): country, department and locality
    from the 16-digit place id; province and municipality from the polling-place list
    (``PROV``/``MUN`` by ``ID_RECI``) when given. Returns the roll and its level names."""
    pid = pl.col("place_id")
    out = roll.with_columns(pid.str.slice(0, 5).alias("country"), pid.str.slice(0, 7).alias("department"))
    levels = ["country", "department"]
    if places is not None and {"place_id", "province", "municipality"} <= set(places.columns):
        out = out.drop([c for c in ("province", "municipality") if c in out.columns]).join(
            places.select("place_id", "province", "municipality"), on="place_id", how="left")
        out = out.with_columns(pl.col("province").fill_null("?"), pl.col("municipality").fill_null("?"))
        levels += ["province", "municipality"]
    out = out.with_columns(pid.str.slice(0, 11).alias("locality"), pid.alias("polling_place"))
    levels += ["locality", "polling_place"]
    return out, tuple(levels)


# ------------------------------------------------------------------------- result
@dataclass
class ProjectionResult:
    """Projected final totals, shares, lead and verdict probabilities."""

    choices: list[str]
    counted_units: int
    expected_units: int
    counted_registered: int
    expected_registered: int
    simulations: int
    seed: int | None
    level: float
    point_totals: dict[str, float]
    shares: dict[str, dict[str, float]]  # name -> point, lo, hi (percent of valid)
    lead_pair: list[str]
    lead: dict[str, float]  # point, lo, hi (points)
    lead_quantiles: dict[str, float]
    outcome_probabilities: dict[str, float]
    imputed_at_level: dict[str, int]
    counted_shares: dict[str, float]
    counted_lead: float
    unmatched_counted: int = 0
    notes: list[str] = field(default_factory=list)
    caveat: str = CAVEAT
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)  # S x channels, uncounted only
    channels: list[str] = field(default_factory=list)
    arrival_calibration: dict | None = None
    completion_test: dict | None = None
    extrapolation: dict | None = None
    multilevel: dict | None = None
    method: str = "hierarchical hot-deck, nested bootstrap (CEPR 2019; Curiel & Williams 2020)"
    # counted against uncounted tables on the roll's attributes (dynamics.representativeness)
    representativeness: dict | None = None
    # Monte Carlo error of the reported bounds (_bound_error)
    monte_carlo: dict | None = None

    def interval(self, name: str) -> tuple[float, float]:
        s = self.shares[name]
        return s["lo"], s["hi"]

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("draws", None)
        d["choices"] = {c: {"share": self.shares[c]["point"], "lo": self.shares[c]["lo"], "hi": self.shares[c]["hi"]}
                        for c in self.choices}
        d["lead_points"] = {"point": self.lead["point"], "lo": self.lead["lo"], "hi": self.lead["hi"],
                            "between": list(self.lead_pair)}
        return d

    def few_tables_note(self) -> str:
        """Said beside any probability above 0.99 that comes from fewer than 1% of the
        tables: such a figure rests on the model, not on the count."""
        share = self.counted_units / max(self.expected_units, 1)
        if share >= FEW_TABLES_SHARE:
            return ""
        return (f"from only {self.counted_units:,} of {self.expected_units:,} tables ({100 * share:.2f}%): "
                "a model's figure, not the count's")

    def extrapolation_text(self) -> str:
        """Which share of the uncounted voters lies in strata with few counted tables."""
        e = self.extrapolation
        if not e:
            return ""
        text = (f"{100 * e['share_few']:.0f}% of uncounted voters are in {e['stratum']} strata with fewer than "
                f"{e['k']} counted tables ({100 * e['share_none']:.0f}% in strata with none yet)")
        by = e.get("by") or {}
        worst = sorted(((v["share_few"], g) for g, v in by.items() if v["uncounted_registered"]), reverse=True)[:3]
        if worst and worst[0][0] > 0:
            text += "; by " + e["stratum"].split(" x ")[0] + ": " + ", ".join(
                f"{g} {100 * s:.0f}%" for s, g in worst if s > 0)
        if self.multilevel is not None:
            text += "; their uncertainty comes from the variation between strata"
            return text
        # the hot deck borrows donors from a wider area: nothing widens for it
        text += "; the hot deck imputes them from counted tables of a wider area"
        if e["share_few"] >= EXTRAPOLATION_WARN:
            text += (". With this much extrapolation, its intervals on simulated urban-first counts covered the truth "
                     "less often than stated (docs/dynamics.md): read them as a lower bound on the uncertainty, or give "
                     "the polling places' area types (--places) for the multilevel model")
        return text

    def completion_text(self) -> str:
        """The slow-place test in one sentence (empty when it did not run)."""
        ct = self.completion_test
        if not ct:
            return ""
        return (f"slow-place test (H0: {ct['null']}): largest t = {ct['t']:.2f} ({self.channels[ct['channel']]}) "
                f"on {ct['df']} df, Bonferroni p = {ct['p_value']:.2g}, over {ct['areas']:,} {ct['area_level']} areas; "
                + (f"applied: the {ct['uncounted_places']:,} wholly uncounted places are shifted along the "
                   "within-area slope, whose uncertainty widens the interval"
                   if ct["applied"] else f"not applied (p >= {ct['alpha']})"))

    def summary(self) -> str:
        a, b = self.lead_pair
        pct = 100 * self.level
        lines = [
            f"Projection from {self.counted_units:,} of {self.expected_units:,} tables "
            f"({100 * self.counted_units / max(self.expected_units, 1):.2f}%), {self.simulations:,} simulations, seed {self.seed}",
            "  counted so far: " + _who_leads(a, b, self.counted_lead),
        ]
        for c in sorted(self.choices, key=lambda c: -self.shares[c]["point"]):
            s = self.shares[c]
            lines.append(f"  {c:<14} {s['point']:6.2f}%  [{s['lo']:.2f}, {s['hi']:.2f}] ({pct:.0f}%)")
        lines.append(f"  projected lead {a} over {b}: {self.lead['point']:.2f} points "
                     f"[{self.lead['lo']:.2f}, {self.lead['hi']:.2f}]"
                     + (f" (below zero: {b} ahead)" if self.lead["point"] < 0 else ""))
        few = self.few_tables_note()
        for k, p in self.outcome_probabilities.items():
            if p is None or not math.isfinite(p):
                lines.append(f"  P({k}) withheld (see the notes)")
                continue
            lines.append(f"  P({k}) = {p:.3f}" + (f" ({few})" if few and p > PROBABILITY_CAP else ""))
        if self.extrapolation:
            lines.append(f"  extrapolation: {self.extrapolation_text()}")
        lines.append(f"  method: {self.method}")
        lines.append("  imputed at level: " + ", ".join(f"{k} {v:,}" for k, v in self.imputed_at_level.items()))
        if self.completion_test:
            lines.append(f"  {self.completion_text()}")
        lines.extend(f"  note: {n}" for n in self.notes)
        if self.monte_carlo:
            mc = self.monte_carlo
            lines.append(f"  Monte Carlo: the bounds above are known to +-{mc['max_bound_se']:.3f} points (standard error "
                         f"with {self.simulations:,} simulations); another seed moves them by about that much; "
                         f"+-0.05 over ten seeds needs about {mc['simulations_for_0.05']:,} simulations")
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


# -------------------------------------------------------------------------- engine
@dataclass
class _Plan:
    """Pre-computed index arrays for the nested bootstrap (built once, used per chunk)."""

    depth_names: list[str]
    steps: list[dict]  # per depth: arrays describing the uncounted nodes to give donors
    table_step: dict
    R_unc: np.ndarray  # registered of uncounted tables (float64)
    rates: np.ndarray  # donor tables x channels (float32)
    imputed_at: dict[str, int]
    prepared: list | None = None
    R_tab: np.ndarray | None = None
    rates64: np.ndarray | None = None
    salt: np.uint64 = np.uint64(0)


def _codes(values: pl.Series) -> np.ndarray:
    """Dense 0..k-1 integer codes of a string column."""
    return (values.fill_null("").rank("dense").to_numpy().astype(np.int64) - 1) if values.len() else np.zeros(0, np.int64)


_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _uniform_hash(keys: np.ndarray, salt: np.uint64) -> np.ndarray:
    """Uniform [0,1) floats from integer keys (splitmix64 finaliser): a bootstrap resample
    slot's value is a function of (simulation, slot), so two uncounted nodes that pick the
    same slot get the same donor without materialising the whole resample."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) + salt
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def _build_plan(H: np.ndarray, donor: np.ndarray, R: np.ndarray, rates_all: np.ndarray,
                depth_names: list[str], min_donors: int) -> _Plan:
    """H: tables x D node codes (depth 0 = root), donor: bool tables, R: registered."""
    n, D = H.shape
    # counted-touching ("live") nodes per depth, and live children counts
    live = []
    for d in range(D):
        size = int(H[:, d].max()) + 1 if n else 0
        lv = np.zeros(size, bool)
        lv[H[donor, d]] = True
        live.append(lv)
    # live children count per node at depth d (children live at d+1; tables at the last depth)
    nchild = []
    for d in range(D):
        if d + 1 < D:
            pairs = np.unique(np.stack([H[:, d], H[:, d + 1]], 1)[live[d + 1][H[:, d + 1]]], axis=0)
            cnt = np.bincount(pairs[:, 0], minlength=live[d].size)
        else:
            cnt = np.bincount(H[donor, d], minlength=live[d].size)
        nchild.append(cnt)
    unc = np.flatnonzero(~donor)
    Hu = H[unc]
    # anchor depth per uncounted table: deepest ancestor with >= min_donors live children;
    # the root is the last resort whenever it has any.
    anchor = np.zeros(unc.size, np.int64)
    for d in range(1, D):
        ok = nchild[d][Hu[:, d]] >= min_donors
        anchor = np.where(ok, d, anchor)
    imputed_at = {}
    for d in range(D):
        k = int((anchor == d).sum())
        if k:
            imputed_at[depth_names[d]] = k
    # live children lists (CSR) per depth: children of node p at depth d are live nodes at d+1
    steps = []
    for d in range(1, D + 1):
        # nodes at depth d on a chain: tables' nodes at depth d with anchor < d
        on = anchor < d
        if d < D:
            node = Hu[on, d]
        else:
            node = np.flatnonzero(on)  # tables themselves (indices into unc)
        parent = Hu[on, d - 1]
        start = (anchor[on] == d - 1)
        if d < D:
            uniq, inv = np.unique(node, return_inverse=True)
            par = np.zeros(uniq.size, np.int64)
            par[inv] = parent
            st = np.zeros(uniq.size, bool)
            st[inv] = start
            # donor candidates: live children of a parent at depth d-1
            pairs = np.unique(np.stack([H[:, d - 1], H[:, d]], 1)[live[d][H[:, d]]], axis=0)
        else:
            uniq, inv = node, np.arange(node.size)
            par, st = parent, start
            dt = np.flatnonzero(donor)
            order = np.argsort(H[dt, d - 1], kind="stable")
            pairs = np.stack([H[dt, d - 1][order], dt[order]], 1)
        cstart = np.searchsorted(pairs[:, 0], np.arange(live[d - 1].size))
        ccount = np.bincount(pairs[:, 0], minlength=live[d - 1].size)
        steps.append(dict(nodes=uniq, inv=inv, parent=par, start=st, children=pairs[:, 1],
                          cstart=cstart, ccount=ccount, on=on))
    # map table-level donor ids into rows of the rates matrix
    return _Plan(depth_names, steps[:-1], steps[-1], R[unc].astype(np.float64), rates_all, imputed_at)


def _prepare_steps(plan: _Plan) -> list[dict]:
    """Static per-step index arrays (identical for every chunk of simulations)."""
    out = []
    prev_nodes = None
    for st in plan.steps + [plan.table_step]:
        parent, start = st["parent"], st["start"]
        cstart, ccount = st["cstart"], st["ccount"]
        si, ci = np.flatnonzero(start), np.flatnonzero(~start)
        prep = dict(m=st["nodes"].size, si=si, ci=ci, children=st["children"], cstart=cstart,
                    ccount=ccount.astype(np.float32))
        if si.size:
            anchors, a_inv = np.unique(parent[si], return_inverse=True)
            n_a = ccount[anchors]
            # resample of size n-1 (not n): its mean then varies like s^2/n, the sampling
            # variance of the anchor's mean; a size-n resample understates it by (n-1)/n,
            # the small-sample bias of the approximate Bayesian bootstrap (Rubin &
            # Schenker 1986) discussed by Parzen, Lipsitz & Fitzmaurice (2005).
            n_slots = np.maximum(n_a - 1, 1)
            off = np.concatenate([[0], np.cumsum(n_slots)[:-1]])
            prep.update(n_inv=n_a[a_inv].astype(np.float32), slots_inv=n_slots[a_inv].astype(np.float32),
                        base_inv=cstart[anchors][a_inv], off_inv=off[a_inv].astype(np.int64),
                        total=int(n_slots.sum()))
        if ci.size:
            prep["pos"] = np.searchsorted(prev_nodes, parent[ci])
        out.append(prep)
        prev_nodes = st["nodes"]
    return out


def _simulate(plan: _Plan, S: int, rng: np.random.Generator, s0: int = 0) -> np.ndarray:
    """Simulated totals of the uncounted tables: S x channels (float64)."""
    C = plan.rates.shape[1]
    if plan.R_unc.size == 0:
        return np.zeros((S, C))
    prev_donor = None
    for st in plan.prepared:
        m = st["m"]
        if m == 0:
            prev_donor = np.zeros((S, 0), np.int64)
            continue
        donor = np.empty((S, m), np.int64)
        children, cstart = st["children"], st["cstart"]
        si, ci = st["si"], st["ci"]
        if si.size:
            # start nodes: a donor from a bootstrap resample of the anchor's counted
            # children, one resample per (simulation, anchor), shared by all the anchor's
            # uncounted children. Slot j of the resample is a hash of (simulation, slot),
            # so two nodes that draw the same slot get the same donor.
            n_inv = st["n_inv"]
            j = (rng.random((S, si.size), dtype=np.float32) * st["slots_inv"]).astype(np.int64)
            slot = (np.arange(s0, s0 + S, dtype=np.int64)[:, None] * st["total"] + st["off_inv"]) + j
            pick = (_uniform_hash(slot, plan.salt + np.uint64(len(si))) * n_inv).astype(np.int64)
            donor[:, si] = children[st["base_inv"] + pick]
        if ci.size:
            # below the anchor: a uniform counted child of the parent's donor
            pdon = prev_donor[:, st["pos"]]
            u = (rng.random((S, ci.size), dtype=np.float32) * st["ccount"][pdon]).astype(np.int64)
            donor[:, ci] = children[cstart[pdon] + u]
        prev_donor = donor
    # totals = sum_u R_u * rates[donor(s,u)]: a sparse (simulation x donor) matrix of
    # registered voters, built directly in CSR form (one row per simulation, no sorting),
    # times the dense rates matrix
    from scipy import sparse

    R = plan.R_tab
    nt = plan.rates.shape[0]
    m = prev_donor.shape[1]
    W = sparse.csr_matrix((np.broadcast_to(R, prev_donor.shape).ravel(), prev_donor.ravel(),
                           np.arange(0, S * m + 1, m, dtype=np.int64)), shape=(S, nt))
    return np.asarray(W @ plan.rates64)


COMPLETION_ALPHA = 0.01
PROBABILITY_CAP = 0.99  # above this, a probability from few tables says how few
FEW_TABLES_SHARE = 0.01
EXTRAPOLATION_K = 10  # a stratum with fewer counted tables than this is "extrapolated"
EXTRAPOLATION_WARN = 0.5  # above this share of uncounted voters extrapolated, the summary warns


def _stratum_codes(joined: pl.DataFrame, cols: Sequence[str]) -> np.ndarray:
    if not cols:
        return np.zeros(joined.height, np.int64)
    key = pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("?") for c in cols], separator="|")
    return _codes(joined.select(key.alias("k"))["k"])


def _extrapolation(joined, cols, is_c, Rr, k, by=None) -> dict:
    """Share of uncounted voters in strata (``cols`` together) with fewer than k counted
    tables, overall and by the values of the ``by`` column."""
    from escrutinio.dynamics.multilevel import extrapolation

    code = _stratum_codes(joined, cols)
    U = np.where(is_c, 0.0, Rr)
    out = extrapolation(code, is_c, U, k)
    out["stratum"] = " x ".join(c.removeprefix("_h_") for c in cols)
    if by is not None:
        n = int(code.max()) + 1
        ct = np.bincount(code, is_c.astype(np.float64), n)[code]
        frame = pl.DataFrame({"g": joined[by].cast(pl.Utf8).fill_null("?"), "U": U, "few": (ct < k) & (U > 0),
                              "none": (ct == 0) & (U > 0)})
        g = frame.group_by("g").agg(pl.col("U").sum(), (pl.col("U") * pl.col("few")).sum().alias("Uf"),
                                    (pl.col("U") * pl.col("none")).sum().alias("Un")).sort("g")
        out["by"] = {r["g"]: {"uncounted_registered": int(r["U"]), "share_few": r["Uf"] / r["U"] if r["U"] else 0.0,
                              "share_none": r["Un"] / r["U"] if r["U"] else 0.0} for r in g.iter_rows(named=True)}
    return out


def _hotdeck_extrapolation(joined, hcols, is_c, Rr, k) -> dict:
    """For the hot deck: strata are the level two above the polling place (municipality)."""
    cols = [hcols[-3]] if len(hcols) >= 3 else hcols[:1]
    return _extrapolation(joined, cols, is_c, Rr, k)


def _multilevel(joined, strata, hcols, is_c, donor, V, denom, Rr, previous, channels, S, rng, k, chunk, crossed=True,
                covariates=(), selection_r=None):
    """Multilevel imputation (see :mod:`escrutinio.dynamics.multilevel`): S x C draws and info."""
    from escrutinio.dynamics import multilevel as ml

    place = _codes(joined[hcols[-1]])
    P = int(place.max()) + 1
    C = len(channels)
    cnt = is_c & donor
    cR = np.bincount(place, np.where(cnt, denom, 0.0), P)
    cV = np.vstack([np.bincount(place, np.where(cnt, V[:, c], 0.0), P) for c in range(C)]).T
    uR = np.bincount(place, np.where(is_c, 0.0, Rr), P)
    keys = []
    for i in range(len(strata)):
        t = _stratum_codes(joined, strata[: i + 1])
        kp = np.zeros(P, np.int64)
        kp[place] = t
        keys.append(kp)
    x = None
    info: dict = {}
    if previous is not None:
        Pt, matched, filled = _previous_rates(joined, previous, channels, hcols)
        x = np.zeros((P, C))
        x[place] = Pt
        info["previous_note"] = (f"previous election as a covariate (rate now = slope x rate then + strata): channels "
                                 f"{matched}; {filled} tables without a previous result at their place took their area's")
    cross = None
    if crossed and len(strata) >= 2:
        cross = np.zeros(P, np.int64)
        cross[place] = _stratum_codes(joined, [strata[1]])
    # place covariates known for every place: log size (registered voters in the roll)
    # and any numeric place columns given (e.g. log population density)
    zs, znames = [np.log(np.maximum(np.bincount(place, Rr, P), 1.0))], ["log place size"]
    for c in covariates:
        col = joined[c].cast(pl.Float64, strict=False).to_numpy()
        z = np.full(P, np.nan)
        z[place] = col
        z = np.log(np.maximum(z, 1e-3)) if c.startswith("log:") or True else z
        z = np.where(np.isfinite(z), z, np.nanmean(z) if np.isfinite(z).any() else 0.0)
        zs.append(z)
        znames.append(f"log {c}")
    Z = np.stack(zs, 1)
    if selection_r is None:
        selection_r = ml.selection_prior(covariates)
    f = ml.fit(keys, [c.removeprefix("_h_") for c in strata], cR, cV, uR, place[cnt], denom[cnt], V[cnt], x, rng,
               cross=cross, Z=Z, selection_r=selection_r)
    sims = ml.simulate(f, S, rng, chunk=max(1, chunk // 2))
    if f.selection is not None and f.selection.r_scale > 0:
        sd = f.selection.per_sd(float(f.U.sum()))
        info["selection"] = {"r_scale": f.selection.r_scale,
                             "sd_uncounted_rate": {ch: float(x) for ch, x in zip(channels, sd)}}
        info["selection_note"] = (f"the count order may favour some voters inside strata: its correlation with the "
                                  f"vote is drawn from N(0, {f.selection.r_scale:g}^2) (measured on Bolivia's 2019 "
                                  f"count orders, net of this model's place covariates; --selection-r 0 if tables "
                                  f"arrive at random)")
    info["levels"] = [{"level": n, "tau": [float(np.sqrt(t)) for t in lev.tau2], "df": lev.df,
                       "nodes": int(lev.parent.size), "nodes_with_data": int(np.isfinite(lev.v[:, 0]).sum())}
                      for n, lev in zip(f.names, f.levels)]
    info["strata"] = [c.removeprefix("_h_") for c in strata]
    info["covariates"] = (["previous rate"] if x is not None else []) + znames
    info["slopes"] = [[float(b) for b in row] for row in f.beta]  # channel x covariate
    info["slopes_se"] = [[float(b) for b in row] for row in f.beta_boot.std(axis=0)] if f.beta_boot is not None else []
    ext_cols = strata[:2] if len(strata) >= 2 else strata
    info["extrapolation"] = _extrapolation(joined, ext_cols, is_c, Rr, k, by=strata[0] if strata else None)
    return sims, info


def _completion_shift(joined: pl.DataFrame, hcols: list[str], is_c: np.ndarray, rates: np.ndarray,
                      denom: np.ndarray, Rr: np.ndarray, S: int, rng: np.random.Generator):
    """Response-propensity adjustment for wholly uncounted polling places.

    Statistic: within each area (the level two above the polling place, a municipality
    in Bolivia), the slope of a counted place's rates per registered voter on its
    completion (share of its registered voters already counted), pooled across areas by
    within-area least squares over places, weighted by counted registered voters (a
    place's rate varies like 1 / its size). Completion stands for how fast a place reports; a
    non-zero slope means slow places vote differently, which the hot deck, matching only
    by geography, cannot see. A wholly uncounted place has completion 0, so its expected
    rate is its area's mean counted-place rate minus slope x the area's mean completion.
    Interval: the slope is redrawn per simulation by a cluster (area) Poisson bootstrap
    (Hanley & MacGibbon 2006), so its estimation uncertainty widens the projection.
    Null: slope 0 (missing at random given geography), under which the shift is noise.
    After Little (1986, "Survey nonresponse adjustments for estimates of means", Int.
    Stat. Rev. 54) on response-propensity cells; motivation in Idrobo, Kronick &
    Rodríguez (J. Politics 2022): slow-reporting places differ.

    Returns (S x channels shift in votes to add to the imputed totals, info dict) or
    (None, None) when there is nothing to adjust or no variation to learn from.
    """
    if len(hcols) < 2:
        return None, None
    place, group = hcols[-1], hcols[-3] if len(hcols) >= 3 else hcols[-2]
    C = rates.shape[1]
    base = pl.DataFrame({"p": joined[place], "g": joined[group], "c": is_c, "R": Rr, "d": np.where(is_c, denom, 0.0)})
    y = pl.DataFrame(rates.astype(np.float64) * np.where(is_c, denom, 0.0)[:, None], schema=[f"y{i}" for i in range(C)])
    t = pl.concat([base, y], how="horizontal")
    P = t.group_by("p", maintain_order=True).agg(pl.col("g").first(), pl.col("R").sum(), pl.col("d").sum().alias("Rc"),
                            pl.col("c").any().alias("live"), *[pl.col(f"y{i}").sum() for i in range(C)])
    live = P.filter(pl.col("live") & (pl.col("Rc") > 0) & (pl.col("R") > 0)).with_columns(
        (pl.col("Rc") / pl.col("R")).clip(0, 1).alias("x"), *[(pl.col(f"y{i}") / pl.col("Rc")) for i in range(C)])
    if live.height < 3:
        return None, None

    def wmean(c: str) -> pl.Expr:
        return (pl.col(c) * pl.col("Rc")).sum().over("g") / pl.col("Rc").sum().over("g")

    live = live.with_columns(pl.col("x").mean().over("g").alias("xbar"), (pl.col("x") - wmean("x")).alias("xc"),
                             *[(pl.col(f"y{i}") - wmean(f"y{i}")).alias(f"yc{i}") for i in range(C)])
    G = live.group_by("g", maintain_order=True).agg((pl.col("Rc") * pl.col("xc") ** 2).sum().alias("sxx"), pl.col("xbar").first(),
                               *[(pl.col("Rc") * pl.col("xc") * pl.col(f"yc{i}")).sum().alias(f"sxy{i}")
                                 for i in range(C)]).sort("g")  # a stable order keeps draws reproducible
    sxx = G["sxx"].to_numpy()
    areas = int(sxx.size)
    if sxx.sum() <= 0 or areas < 3:
        return None, None
    sxy = G.select([f"sxy{i}" for i in range(C)]).to_numpy()
    dead = P.filter(~pl.col("live")).join(G.select("g", "xbar"), on="g", how="inner")
    K = float((dead["R"] * dead["xbar"]).sum()) if dead.height else 0.0
    if K == 0.0:
        return None, None
    beta = sxy.sum(axis=0) / sxx.sum()
    # at least 1,000 bootstrap draws for the standard errors, whatever S is. A draw whose
    # Poisson weights leave no variation (likely with few areas: all-zero weights have
    # probability e^-areas) has no slope; it is redrawn, not read as a slope of 0.
    need = max(S, 1000)
    w = rng.poisson(1.0, size=(2 * need, sxx.size)).astype(np.float64)
    den = w @ sxx
    ok = den > 0
    if ok.sum() < need:
        return None, None
    w, den = w[ok][:need], den[ok][:need]
    boot = (w @ sxy) / den[:, None]
    se = boot.std(axis=0)
    # test of "all slopes are 0": each channel's slope over its bootstrap standard error,
    # referred to Student's t with (areas - 1) df, Bonferroni over channels. The
    # adjustment is applied only when the data show that slow places differ (p <
    # COMPLETION_ALPHA); otherwise it would add noise to a projection that needs none.
    # (A joint Wald test was tried and rejected: with few areas the bootstrap covariance
    # of correlated channels is near-singular and the test over-rejects; per-channel t
    # with few-cluster df follows Cameron & Miller 2015, J. Human Resources 50(2).)
    from scipy.stats import t as t_dist

    # a slope known without error (se 0) is infinitely significant unless it is 0
    tstat = np.where(se > 0, beta / np.where(se > 0, se, 1), np.where(beta != 0, np.inf, 0.0))
    k = int(np.argmax(np.abs(tstat)))
    p_value = float(min(1.0, C * 2 * t_dist.sf(abs(tstat[k]), areas - 1)))
    # Empirical-Bayes shrinkage of each slope towards 0 (no adjustment): with a normal
    # prior of variance tau^2 = max(0, beta^2 - se^2) (positive-part James-Stein, Efron &
    # Morris 1973), the posterior is N(B beta, B se^2) with B = tau^2 / (tau^2 + se^2). A
    # slope indistinguishable from noise then neither moves the point nor widens the
    # interval; a clear one is kept whole.
    keep = np.clip(1 - se**2 / np.where(beta != 0, beta**2, np.inf), 0, 1)
    boot = (boot - beta) * np.sqrt(keep) + beta * keep
    info = {"null": "a counted place's rates do not depend on its completion (missing at random given geography)",
            "statistic": "largest |slope / bootstrap s.e.| over channels, Student t, Bonferroni",
            "t": float(tstat[k]), "channel": k, "df": areas - 1,
            "p_value": p_value, "alpha": COMPLETION_ALPHA, "applied": p_value < COMPLETION_ALPHA,
            "areas": areas, "area_level": group.removeprefix("_h_"), "uncounted_places": int(dead.height),
            "registered_weighted_completion": K, "slope": [float(b) for b in beta],
            "slope_se": [float(x) for x in se], "kept": [float(x) for x in keep]}
    if not info["applied"]:
        return None, info
    return -K * boot[:S], info


def project(
    counted: pl.DataFrame,
    roll: pl.DataFrame,
    choices: Sequence[str],
    *,
    levels: Sequence[str] | None = None,
    simulations: int = 2000,
    seed: int | None = 0,
    level: float = 0.95,
    min_donors: int = 2,
    size_strata: bool = False,
    previous: pl.DataFrame | None = None,
    arrival: str | None = None,
    calibration_cuts: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
    correct_bias: bool = False,
    completion_adjustment: bool = True,
    rule=None,
    key: str | None = None,
    chunk: int | None = None,
    threads: int | None = None,
    strata: Sequence[str] | None = None,
    model: str = "auto",
    extrapolation_k: int = EXTRAPOLATION_K,
    covariates: Sequence[str] = (),
    selection_r: float | None = None,
) -> ProjectionResult:
    """Project final totals from a partial count.

    ``counted``: unit frame under the law (``Snapshot.counted()``): ``unit`` (and/or
    ``unit_id``), ``registered``, one column per counted choice, ``blank``, ``null``.
    ``roll``: every expected table: the same key, levels or ``place_id``, ``registered``.
    ``choices``: the choices whose votes are valid (shares are of their sum).
    ``strata``: roll columns known for every table, coarse to fine (e.g. area type,
    department, municipality). With ``model="auto"`` they switch the imputation to the
    multilevel model of :mod:`escrutinio.dynamics.multilevel`; ``model="hotdeck"`` keeps
    the hierarchical hot deck, ``model="multilevel"`` uses the geographic levels as strata
    when none are given.
    """
    if model not in ("auto", "hotdeck", "multilevel"):
        raise UsageError(f"unknown model {model!r}: auto, hotdeck or multilevel")
    strata = [c for c in (strata or ())]
    for c in strata:
        if c not in roll.columns:
            raise UsageError(f"the roll has no stratum column {c!r}")
    use_ml = model == "multilevel" or (model == "auto" and bool(strata))
    if not 0 < level < 1:
        raise UsageError("level must be between 0 and 1")
    if simulations < 1:
        raise UsageError("simulations must be positive")
    choices = list(choices)
    missing = [c for c in [*choices, "blank", "null", "registered"] if c not in counted.columns]
    if missing:
        raise UsageError(f"counted frame lacks columns {missing}")
    if "registered" not in roll.columns:
        raise UsageError("the roll has no registered-voters column")
    if key is None:
        key = "unit_id" if ("unit_id" in counted.columns and "unit_id" in roll.columns
                            and counted["unit_id"].null_count() == 0 and roll["unit_id"].null_count() == 0) else "unit"
    for what, fr in (("the roll", roll), ("the partial count", counted)):
        if key not in fr.columns or fr[key].null_count() == fr.height:
            other = "unit_id" if key == "unit" else "unit"
            raise UsageError(f"{what} has no table identifier {key!r} to match tables on (the other file identifies "
                             f"them by {other!r} or not at all): give the roll of the same election as the count")
        if fr[key].null_count():
            row = int(fr.with_row_index("_i").filter(pl.col(key).is_null())["_i"][0]) + 2
            raise UsageError(f"{what}, row {row}, column {key}: no table identifier")
    if roll[key].is_duplicated().any():
        raise UsageError(f"the roll lists table {roll.filter(pl.col(key).is_duplicated())[key][0]!r} more than once")
    if counted[key].is_duplicated().any():
        raise UsageError(f"the partial count lists table {counted.filter(pl.col(key).is_duplicated())[key][0]!r} more than once")
    nulls = counted.select([pl.col(c).null_count() for c in [*choices, "blank", "null", "registered"]]).row(0)
    if any(nulls):
        raise UsageError("the partial count has tables with unreadable vote numbers; check it before projecting")
    channels = [*choices, "blank", "null"]
    hcols, rollh = hierarchy(roll.with_columns(pl.col(key).cast(pl.Utf8)), levels)
    if size_strata and len(hcols) >= 3:
        hcols, rollh = _size_strata(hcols, rollh)
    depth_names = ["country(all)"] + [c.removeprefix("_h_") for c in hcols] + ["table"]
    cnt = counted.select(pl.col(key).cast(pl.Utf8), pl.col("registered").alias("_reg_c"), *channels)
    keep = [key, "registered", *hcols] + (["place_id"] if "place_id" in rollh.columns else [])
    keep += [c for c in [*strata, *covariates] if c not in keep]
    joined = rollh.select(keep).join(cnt, on=key, how="left")
    extra = cnt.join(rollh.select(key), on=key, how="anti")
    notes = []
    if extra.height:
        notes.append(f"{extra.height} counted tables are not in the roll; their votes are added as counted "
                     "but they do not serve as donors")
    is_c = joined["_reg_c"].is_not_null().to_numpy()
    V = joined.select([pl.col(c).fill_null(0) for c in channels]).to_numpy().astype(np.float64)
    Rc = joined["_reg_c"].fill_null(0).to_numpy().astype(np.float64)
    Rr = joined["registered"].fill_null(0).to_numpy().astype(np.float64)
    denom = np.where(Rc > 0, Rc, Rr)
    donor = is_c & (denom > 0)
    if not donor.any():
        raise UsageError("no counted table to project from")
    rates = np.zeros_like(V, dtype=np.float32)
    rates[donor] = (V[donor] / denom[donor, None]).astype(np.float32)
    H = np.zeros((joined.height, len(hcols) + 1), np.int64)
    for i, c in enumerate(hcols):
        H[:, i + 1] = _codes(joined[c])
    prev_const = np.zeros(len(channels))
    swing_note = None
    if use_ml:
        rng = np.random.default_rng(seed)
        sims, ml_info = _multilevel(joined, strata or [c for c in hcols[:-1]], hcols, is_c, donor, V, denom, Rr,
                                    previous, channels, simulations, rng, extrapolation_k, min(simulations, 250),
                                    covariates=covariates, selection_r=selection_r)
        if ml_info.get("previous_note"):
            notes.append(ml_info["previous_note"])
        notes.append("place covariates: " + ", ".join(
            "log registered voters within 5 km (how remote the place is, from the polling places' coordinates)"
            if c == f"log {REMOTENESS_COVARIATE}" else c for c in ml_info["covariates"]))
        if ml_info.get("selection_note"):
            notes.append(ml_info.pop("selection_note"))
        return _finish(choices, channels, is_c, extra, joined, Rc, Rr, V, sims, prev_const, simulations, seed, level,
                       rule, notes, {"multilevel": int((~is_c).sum())}, None, None, ml_info.pop("extrapolation"),
                       "multilevel empirical Bayes by stratum (DerSimonian & Laird 1986; Fay & Herriot 1979)", ml_info)
    if previous is not None:
        P, matched, filled = _previous_rates(joined, previous, channels, hcols)
        # swing model: a donor passes on its change since the previous election at its
        # own place (rate now - rate then), added to the uncounted table's own previous
        # rate. The previous-rate part is fixed, so it is added once, outside the draws.
        rates[donor] = (rates[donor] - P[donor]).astype(np.float32)
        prev_const = (P[~is_c] * Rr[~is_c, None]).sum(axis=0)
        swing_note = (f"swing model on the previous election: channels {matched}; "
                      f"{filled} tables without a previous result at their place took their area's")
        notes.append(swing_note)
    # counted but unusable as donors (0 registered): their votes count, nothing to impute
    plan = _build_plan(H, donor | is_c, Rr, rates, depth_names, min_donors) if (~is_c).any() else None
    if plan is not None and (is_c & ~donor).any():
        # counted tables with no registered voters are live nodes; their rates are zero,
        # which is exactly what such a table would contribute, so keep them as donors.
        notes.append(f"{int((is_c & ~donor).sum())} counted tables have 0 registered voters")
    counted_tot = V[is_c].sum(axis=0) + (extra.select(channels).to_numpy().sum(axis=0) if extra.height else 0)
    counted_tot = counted_tot + prev_const  # zero without a previous election
    rng = np.random.default_rng(seed)
    S = simulations
    unc_n = int((~is_c).sum())
    if plan is None:
        sims = np.zeros((S, len(channels)))
    else:
        chunk = chunk or max(1, min(S, 250, int(2e6 // max(unc_n, 1))))
        plan.prepared = _prepare_steps(plan)
        plan.R_tab = plan.R_unc[plan.table_step["nodes"]]
        plan.rates64 = plan.rates.astype(np.float64)
        plan.salt = np.uint64(rng.integers(0, 2**62))
        # each chunk has its own random stream spawned from the seed, so results do not
        # depend on how many threads run them; numpy releases the GIL in the heavy ops
        starts = list(range(0, S, chunk))
        streams = [np.random.default_rng(ss) for ss in np.random.SeedSequence(rng.integers(0, 2**63)).spawn(len(starts))]
        jobs = [(min(chunk, S - s0), g, s0) for s0, g in zip(starts, streams)]
        workers = min(len(jobs), threads if threads is not None else (os.cpu_count() or 1))
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(lambda j: _simulate(plan, *j), jobs))
        else:
            parts = [_simulate(plan, *j) for j in jobs]
        sims = np.vstack(parts)
    completion_info = None
    if completion_adjustment and plan is not None:
        shift, completion_info = _completion_shift(joined, hcols, is_c, rates, denom, Rr, S, rng)
        if shift is not None:
            sims = sims + shift
    arrival_info = None
    ext = _hotdeck_extrapolation(joined, hcols, is_c, Rr, extrapolation_k) if plan is not None else None
    if arrival is not None and plan is not None:
        E = arrival_errors(counted, arrival, roll, choices, levels=levels, key=key, cuts=calibration_cuts,
                           min_donors=min_donors, size_strata=size_strata, previous=previous)
        # errors of the same imputation on the counted tables' own arrival order: their
        # second-moment matrix scales a Gaussian multiplicative term on the imputed totals
        z = rng.standard_normal((S, E.shape[0]))
        if correct_bias:
            # shift by the mean replay error, spread by the errors' own covariance
            mu = E.mean(axis=0)
            delta = mu[None, :] + z @ (E - mu) / np.sqrt(max(E.shape[0] - 1, 1))
        else:
            delta = z @ E / np.sqrt(E.shape[0])
        # the term scales the whole imputed total (with a swing model, its fixed
        # previous-election part too), as the replay errors were measured on it
        sims = (sims + prev_const[None, :]) * (1 + delta) - prev_const[None, :]
        arrival_info = {"cuts": list(calibration_cuts), "bias_corrected": bool(correct_bias),
                        "relative_errors": {c: [float(x) for x in E[:, i]] for i, c in enumerate(channels)}}
        notes.append("uncertainty widened by the imputation's own errors when replayed on the counted tables' "
                     f"arrival order ({arrival!r}) at {', '.join(f'{100 * c:.0f}%' for c in calibration_cuts)} of them")
    return _finish(choices, channels, is_c, extra, joined, Rc, Rr, V, sims, prev_const, S, seed, level, rule, notes,
                   plan.imputed_at if plan else {}, arrival_info, completion_info, ext,
                   "hierarchical hot-deck, nested bootstrap (CEPR 2019; Curiel & Williams 2020)")


SEED_RANGE_10 = 3.08  # expected range of 10 standard normal draws (Tippett 1925)


def _bound_error(share: np.ndarray, a: float) -> dict:
    """Monte Carlo standard error of each equal-tailed bound: the bound is an order
    statistic whose rank is binomial, so its error is half the distance between the
    quantiles one binomial standard deviation of rank either side (the order-statistic
    interval for a quantile; e.g. Hyndman & Fan 1996 on sample quantiles). Ten seeds move
    a bound over about 3.08 of these; the simulations for a range of 0.05 follow from
    the error falling as 1 / sqrt(simulations)."""
    S = share.shape[0]
    d = np.sqrt(a * (1 - a) / max(S, 1))
    q = np.quantile(share, [max(a - d, 0.0), min(a + d, 1.0), max(1 - a - d, 0.0), min(1 - a + d, 1.0)], axis=0)
    se_lo, se_hi = (q[1] - q[0]) / 2, (q[3] - q[2]) / 2
    worst = float(max(se_lo.max(), se_hi.max())) if share.size else 0.0
    need = int(math.ceil(S * (SEED_RANGE_10 * worst / 0.05) ** 2 / 1000.0) * 1000) if worst > 0 else S
    return {"bound_se": {"lo": [float(x) for x in se_lo], "hi": [float(x) for x in se_hi]},
            "max_bound_se": worst, "expected_range_over_10_seeds": SEED_RANGE_10 * worst,
            "simulations_for_0.05": max(need, S)}


def _finish(choices, channels, is_c, extra, joined, Rc, Rr, V, sims, prev_const, S, seed, level, rule, notes,
            imputed_at, arrival_info, completion_info, ext, method, ml=None) -> ProjectionResult:
    """Shares, lead, intervals and verdict probabilities from simulated uncounted totals."""
    counted_tot = V[is_c].sum(axis=0) + (extra.select(channels).to_numpy().sum(axis=0) if extra.height else 0)
    counted_tot = counted_tot + prev_const
    final = np.rint(sims).astype(np.int64) + np.rint(counted_tot).astype(np.int64)[None, :]
    nch = len(choices)
    valid = final[:, :nch].sum(axis=1).astype(np.float64)
    share = 100 * final[:, :nch] / np.where(valid > 0, valid, 1)[:, None]
    mean_tot = sims.mean(axis=0) + counted_tot
    point_share = 100 * mean_tot[:nch] / max(mean_tot[:nch].sum(), 1e-12)
    a = (1 - level) / 2
    lo, hi = np.quantile(share, [a, 1 - a], axis=0)
    mc = _bound_error(share, a)
    order = np.argsort(-point_share)
    ia, ib = (int(order[0]), int(order[1])) if nch > 1 else (0, 0)
    lead = share[:, ia] - share[:, ib]
    lead_point = float(point_share[ia] - point_share[ib])
    l_lo, l_hi = np.quantile(lead, [a, 1 - a])
    outcomes = _law_rule(rule)(final[:, :nch])
    probs = {o: float(np.mean(outcomes == o)) for o in ("first_round_win", "runoff")}
    for o in np.unique(outcomes):
        probs.setdefault(str(o), float(np.mean(outcomes == o)))
    diff = final[:, ia] - final[:, ib]
    vt = final[:, :nch].sum(axis=1)
    probs["lead_ge_10_points"] = float(np.mean(10 * diff >= vt))
    probs[f"winner:{choices[ia]}"] = float(np.mean(final[:, ia] == final[:, :nch].max(axis=1)))
    only_counted = counted_tot - prev_const
    c_share = 100 * only_counted[:nch] / max(only_counted[:nch].sum(), 1)
    qs = [0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975]
    share_counted = (is_c.sum() + extra.height) / max(joined.height + extra.height, 1)
    if share_counted < FEW_TABLES_SHARE and any(p > PROBABILITY_CAP for p in probs.values()):
        notes.append(f"probabilities above {PROBABILITY_CAP} come from only {int(is_c.sum() + extra.height):,} of "
                     f"{joined.height + extra.height:,} tables ({100 * share_counted:.2f}%): a model's figure, "
                     "not the count's")
    return ProjectionResult(
        choices=choices,
        counted_units=int(is_c.sum() + extra.height),
        expected_units=int(joined.height + extra.height),
        counted_registered=int(Rc[is_c].sum() + (extra["_reg_c"].sum() if extra.height else 0)),
        expected_registered=int(Rr.sum()),
        simulations=S, seed=seed, level=level,
        point_totals={c: float(mean_tot[i]) for i, c in enumerate(channels)},
        shares={c: {"point": float(point_share[i]), "lo": float(lo[i]), "hi": float(hi[i])} for i, c in enumerate(choices)},
        lead_pair=[choices[ia], choices[ib]],
        lead={"point": lead_point, "lo": float(l_lo), "hi": float(l_hi)},
        lead_quantiles={str(q): float(v) for q, v in zip(qs, np.quantile(lead, qs))},
        outcome_probabilities=probs,
        imputed_at_level=imputed_at,
        counted_shares={c: float(c_share[i]) for i, c in enumerate(choices)},
        counted_lead=float(c_share[ia] - c_share[ib]),
        unmatched_counted=int(extra.height),
        notes=notes,
        draws=sims + prev_const[None, :],
        channels=channels,
        arrival_calibration=arrival_info,
        completion_test=completion_info,
        monte_carlo=mc,
        extrapolation=ext,
        multilevel=ml,
        method=method,
        caveat=CAVEAT_MULTILEVEL if ml is not None else CAVEAT,
    )


def arrival_errors(counted: pl.DataFrame, arrival: str, roll: pl.DataFrame, choices: Sequence[str], *,
                   levels=None, key: str = "unit", cuts: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
                   min_donors: int = 2, size_strata: bool = False, previous=None, simulations: int = 100) -> np.ndarray:
    """Relative errors of the imputation replayed on the counted tables' own arrival order.

    For each cut k, the first k of the counted tables (by ``arrival``) play the counted
    ones and the rest of the counted tables play the uncounted; the error is
    (actual - expected) / expected total per channel of those held-back tables. Only
    information available at the time of the partial count is used. Returns cuts x channels.
    """
    if arrival not in counted.columns:
        raise UsageError(f"the partial count has no arrival column {arrival!r}")
    if counted[arrival].null_count():
        raise UsageError(f"{counted[arrival].null_count()} counted tables have no arrival order in {arrival!r}")
    channels = [*choices, "blank", "null"]
    f = counted.sort([arrival, key])
    sub_roll = roll.join(f.select(pl.col(key).cast(roll[key].dtype)), on=key, how="semi")
    rows = []
    for c in cuts:
        n = int(round(c * f.height))
        early, late = f.head(n), f.tail(f.height - n)
        if early.height == 0 or late.height == 0:
            continue
        r = project(early, sub_roll, choices, levels=levels, simulations=simulations, seed=1, key=key,
                    min_donors=min_donors, size_strata=size_strata, previous=previous)
        expected = r.draws.mean(axis=0)
        actual = late.select(channels).sum().to_numpy().ravel().astype(np.float64)
        rows.append((actual - expected) / np.where(expected > 0, expected, 1))
    if not rows:
        raise UsageError("too few counted tables to replay their arrival order")
    return np.vstack(rows)


def project_snapshot(snapshot, roll: pl.DataFrame, **kw) -> ProjectionResult:
    """:func:`project` for a :class:`~escrutinio.model.Snapshot` under the law."""
    frame = snapshot.counted()
    return project(frame, roll, snapshot.counted_choices, levels=kw.pop("levels", snapshot.levels), **kw)
