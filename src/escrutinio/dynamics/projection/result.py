"""The projection's result: shares, lead, intervals and outcome probabilities from the
simulated uncounted totals (:func:`_finish`), their Monte Carlo error, and the summaries
(text and JSON) that the command prints."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from escrutinio.dynamics.projection.law import _law_rule

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

PROBABILITY_CAP = 0.99  # above this, a probability from few tables says how few
FEW_TABLES_SHARE = 0.01
EXTRAPOLATION_WARN = 0.5  # above this share of uncounted voters extrapolated, the summary warns


def _who_leads(a: str, b: str, lead: float) -> str:
    """'CC leads MAS_IPSP by 21.70 points', never 'lead MAS_IPSP over CC -21.70'."""
    if round(lead, 2) == 0:
        return f"{a} and {b} tied (lead {abs(lead):.2f} points)"
    first, second = (a, b) if lead > 0 else (b, a)
    return f"{first} leads {second} by {abs(lead):.2f} points"


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

    @staticmethod
    def _auto_text(auto: dict) -> str:
        """The Monte Carlo line's end when the simulations were chosen (projection.auto)."""
        text = (f"; these {auto['simulations']:,} were chosen from a pilot of {auto['pilot_simulations']:,} "
                f"(+-{auto['pilot_max_bound_se']:.3f}), see the note")
        if auto["capped"]:
            text += (f"; THE CAP OF {auto['cap']:,} SIMULATIONS BINDS: the bounds are less stable than "
                     f"{auto['target_range']:g} over ten seeds")
        return text

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
            auto = mc.get("auto")
            # with the chosen simulations, the range over ten seeds is the rule's (safety factor
            # included), not the bare error's, so that the line and the note say the same
            stability = (f"ten seeds would move a bound by up to about {auto['expected_range_over_10_seeds_with_safety']:.2f}"
                         f" points (with the safety factor of {auto['safety']:g})" if auto else
                         f"+-0.05 over ten seeds needs about {mc['simulations_for_0.05']:,} simulations")
            lines.append(f"  Monte Carlo: the bounds above are known to +-{mc['max_bound_se']:.3f} points (standard error "
                         f"with {self.simulations:,} simulations); another seed moves them by about that much; "
                         f"{stability}" + (self._auto_text(auto) if auto else ""))
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


SEED_RANGE_10 = 3.08  # expected range of 10 standard normal draws (Tippett 1925)


def _bound_error(share: np.ndarray, a: float, lead: np.ndarray | None = None) -> dict:
    """Monte Carlo standard error of each equal-tailed bound: the bound is an order
    statistic whose rank is binomial, so its error is half the distance between the
    quantiles one binomial standard deviation of rank either side (the order-statistic
    interval for a quantile; e.g. Hyndman & Fan 1996 on sample quantiles). Ten seeds move
    a bound over about 3.08 of these; the simulations for a range of 0.05 follow from
    the error falling as 1 / sqrt(simulations). ``lead``: the lead's draws, whose bounds
    are reported too."""
    S = share.shape[0]
    d = np.sqrt(a * (1 - a) / max(S, 1))
    both = np.column_stack([share, np.zeros(S) if lead is None else lead])
    q = np.quantile(both, [max(a - d, 0.0), min(a + d, 1.0), max(1 - a - d, 0.0), min(1 - a + d, 1.0)], axis=0)
    se_lo, se_hi = (q[1] - q[0]) / 2, (q[3] - q[2]) / 2
    return _conditional_error(se_lo[:-1], se_hi[:-1], S, np.array([se_lo[-1], se_hi[-1]]))


# where the truncation of a simulation's draw (a channel below zero, more votes than
# registered voters) may move a share by more than this many points in expectation, its
# conditional distribution is taken given the totals the truncation acts on as well; below,
# the truncation is ignored (result._conditional)
TRUNCATION_POINTS = 1e-3
# elements (rows x simulations x partners) evaluated at once in the bisection of
# _conditional: bounds its temporaries (about 8 bytes x 4 of these) whatever the simulations
CONDITIONAL_CHUNK = 1 << 21


def _normal_excess(mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """E[(X)^-] for X ~ N(mean, sd^2): the expected shortfall below zero."""
    from scipy.special import ndtr

    z = np.clip(mean / np.maximum(sd, 1e-300), -40.0, 40.0)
    return np.where(sd > 0, sd * (np.exp(-z * z / 2) / np.sqrt(2 * np.pi) - z * ndtr(-z)), np.maximum(-mean, 0.0))


def _conditional(parts: dict, counted_tot: np.ndarray, nch: int, ia: int, ib: int, level: float,
                 lead_probs: list[float]) -> dict:
    """Bounds of each share and of the lead from the draws' conditional distributions.

    Why: given the rest of a simulation, the selection term, the table noise and the
    polling places' noise are normal (``parts``: the mean ``a`` of the uncounted totals
    without them and their covariance ``M``). A share is a ratio, but the event
    share_j <= t is linear in the totals: l'(a + g) <= 0 with l = e_j - t 1 (1 over the
    choices), so P(share_j <= t | rest) = Phi(-l'a / sqrt(l' M l)) exactly. The
    covariates' slopes' term is additive and independent of the rest, so each simulation
    is also averaged over K replicates of it (its partners, ``parts["boot"]``). The
    projected distribution is the mixture of these, the same distribution as the draws'
    (conditioning does not change an expectation: Rao-Blackwellization, e.g. Robert &
    Casella 2004, section 4.2), and its quantiles, found by bisection, vary less between
    seeds than the draws' order statistics. Where the truncation of the draws may act
    (more than TRUNCATION_POINTS): the scaling to the registered voters is handled by
    conditioning on the drawn total as well, and a channel below zero by conditioning on
    that channel's drawn total too. Votes are not rounded here (at most 10^-6 points).

    Returns share quantiles (2 x nch), the lead's at ``level``'s tails then ``lead_probs``,
    and the Monte Carlo standard errors of the bounds (delta method on the mixture, whose
    S per-simulation components are independent)."""
    from scipy.special import ndtr

    m0, M, U = parts["mean"], parts["cov"], parts["U"]
    boot = parts["boot"]  # S x K x C, the first the draw's
    S, K, C = boot.shape
    g = parts["drawn"] - m0  # the drawn normal terms
    m = m0[:, None, :] + boot - boot[:, :1]  # S x K x C: each partner's mean
    sd = np.sqrt(np.maximum(np.einsum("scc->sc", M), 0.0))
    tot_sd = np.sqrt(np.maximum(M.sum(axis=(1, 2)), 0.0))
    valid = np.maximum(m[..., :nch].sum(axis=2) + counted_tot[:nch].sum(), 1.0)
    # truncation at zero moves a channel by x^-, the scaling to the registered voters the
    # choices by at most (1'x - U)^+ in all: a share by at most twice that over the valid votes
    risky = 200 * _normal_excess(m, sd[:, None, :]) / valid[..., None] > TRUNCATION_POINTS  # S x K x C
    scaled = risky.any(axis=2) | (200 * _normal_excess(U - m.sum(axis=2), tot_sd[:, None]) / valid
                                  > TRUNCATION_POINTS)
    a = m + counted_tot[None, None, :]
    v = np.zeros(C)
    v[:nch] = -1.0
    a_tail = (1 - level) / 2
    targets = []  # (u, range, probabilities): the event is (u + t v)'(a + g) <= 0
    for j in range(nch):
        u = np.zeros(C)
        u[j] = 1.0
        targets.append((u, (0.0, 1.0), [a_tail, 1 - a_tail]))
    u = np.zeros(C)
    u[ia] += 1.0
    u[ib] -= 1.0
    targets.append((u, (-1.0, 1.0), [a_tail, 1 - a_tail, *lead_probs]))
    Uv = np.stack([t[0] for t in targets])  # T x C

    def forms(Ms):  # the quadratic forms u'Mu, u'Mv (T x n) and v'Mv (n) of n covariances
        Mv = np.einsum("scd,d->sc", Ms, v)
        return np.einsum("tc,scd,td->ts", Uv, Ms, Uv), np.einsum("sc,tc->ts", Mv, Uv), Mv @ v

    uMu, uMv, vMv = (np.repeat(f[..., None], K, axis=-1) for f in forms(M))  # T x S x K, S x K
    for pattern in np.unique(risky[scaled], axis=0):
        # where the truncation may act, condition on the drawn total Y = 1'x and on the
        # channels that may fall below zero, x_P: given them the truncation and the scale s
        # are known, final = c + s x~ (x~: x with x_P at max(x_P, 0)), and the event is
        # l'(c / s + x~) <= 0 with x~ normal given (x_P, Y) (the normal conditional)
        si_all, sk_all = np.nonzero(scaled & np.all(risky == pattern, axis=2))
        L = np.vstack([np.eye(C)[pattern], np.ones((1, C))])  # q x C
        # in chunks: from the roll alone most of the S x K draws may be scaled, and their
        # covariances (n x C x C, several of them) would take gigabytes at 64,000 simulations
        step_n = max(1, CONDITIONAL_CHUNK // (4 * C * C))
        for n0 in range(0, si_all.size, step_n):
            si, sk = si_all[n0:n0 + step_n], sk_all[n0:n0 + step_n]
            Ms, mm = M[si], m[si, sk]
            xo = mm + g[si]  # the drawn totals before truncation
            LM = np.einsum("qc,ncd->nqd", L, Ms)
            inv = np.linalg.pinv(np.einsum("nqd,rd->nqr", LM, L), hermitian=True)  # n x q x q
            gain = np.einsum("nqc,nqr->ncr", LM, inv)  # n x C x q
            mu = mm + np.einsum("ncr,nr->nc", gain, np.einsum("qc,nc->nq", L, xo - mm))
            mu[:, pattern] = np.maximum(xo[:, pattern], 0.0)
            Y = mu.sum(axis=1)
            sc = np.minimum(1.0, U / np.maximum(Y, 1e-300))
            a[si, sk] = counted_tot[None, :] / sc[:, None] + mu
            uMu[:, si, sk], uMv[:, si, sk], vMv[si, sk] = forms(Ms - np.einsum("ncr,nrd->ncd", gain, LM))
    # the draws themselves (truncated as in the simulation), for a bracket of the bisection
    x = np.maximum(m + g[:, None, :], 0.0)
    x = x / np.maximum(x.sum(axis=2) / U, 1.0)[..., None] + counted_tot[None, None, :]
    xv = x[..., :nch].sum(axis=2)
    drawn = np.stack([x[..., j] / xv for j in range(nch)] + [(x[..., ia] - x[..., ib]) / xv])  # T x S x K
    del x, xv
    # one row per (target, probability); the arrays stay per target (T x S x K) and the rows
    # are evaluated in chunks of simulations, so that memory grows with S, not with S times
    # the rows (the automatic simulations reach MAX_SIMULATIONS: projection.auto)
    rows = [(ti, p) for ti, t in enumerate(targets) for p in t[2]]
    R = len(rows)
    ti = np.array([r[0] for r in rows])
    pr = np.array([r[1] for r in rows])
    ua = np.einsum("skc,tc->tsk", a, Uv)  # T x S x K
    va = np.einsum("skc,c->sk", a, v)
    step_s = max(1, CONDITIONAL_CHUNK // max(K * R, 1))

    def comp(t):  # R thresholds -> R x S per-simulation probabilities (mean over partners)
        out = np.empty((R, S))
        tt = t[:, None, None]
        for s0 in range(0, S, step_s):
            sl = slice(s0, s0 + step_s)
            var = uMu[ti, sl] + 2 * tt * uMv[ti, sl] + tt * tt * vMv[None, sl]
            p = ndtr(-(ua[ti, sl] + tt * va[None, sl]) / np.sqrt(np.maximum(var, 1e-300)))
            out[:, sl] = p.mean(axis=2)
        return out

    def cdf(t):
        return comp(t).mean(axis=1)

    lo = np.array([targets[i][1][0] for i in ti], dtype=np.float64)
    hi = np.array([targets[i][1][1] for i in ti], dtype=np.float64)
    # a bracket from the draws' own order statistics, widened until it holds
    d = 6 * np.sqrt(pr * (1 - pr) / S)
    blo = np.array([np.quantile(drawn[ti[r]].ravel(), max(pr[r] - d[r], 0.0)) for r in range(R)])
    bhi = np.array([np.quantile(drawn[ti[r]].ravel(), min(pr[r] + d[r], 1.0)) for r in range(R)])
    ok = (cdf(blo) <= pr) & (cdf(bhi) >= pr)
    lo, hi = np.where(ok, blo, lo), np.where(ok, bhi, hi)
    for _ in range(40 if ok.all() else 50):
        mid = (lo + hi) / 2
        below = cdf(mid) < pr
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    q = (lo + hi) / 2
    # Monte Carlo error (delta method): the mixture's value at q is a mean of S independent
    # per-simulation terms; its standard error over the mixture's density there
    step = np.maximum(0.02 * np.array([drawn[t].std() for t in ti]), 1e-9)
    dens = (cdf(q + step) - cdf(q - step)) / (2 * step)
    se = comp(q).std(axis=1) / np.sqrt(S) / np.maximum(dens, 1e-300)
    sh = q[: 2 * nch].reshape(nch, 2).T
    she = se[: 2 * nch].reshape(nch, 2).T
    return {"shares": 100 * sh, "shares_se": 100 * she, "lead": 100 * q[2 * nch:], "lead_se": 100 * se[2 * nch:2 * nch + 2]}


def _conditional_error(se_lo: np.ndarray, se_hi: np.ndarray, S: int, lead_se: np.ndarray) -> dict:
    """:func:`_bound_error`'s report for bounds whose standard errors are known (the
    shares' lower and upper bounds, then the lead's two)."""
    worst = float(max(se_lo.max(), se_hi.max(), lead_se.max())) if se_lo.size else 0.0
    need = int(math.ceil(S * (SEED_RANGE_10 * worst / 0.05) ** 2 / 1000.0) * 1000) if worst > 0 else S
    return {"bound_se": {"lo": [float(x) for x in se_lo], "hi": [float(x) for x in se_hi]},
            "lead_se": {"lo": float(lead_se[0]), "hi": float(lead_se[1])},
            "max_bound_se": worst, "expected_range_over_10_seeds": SEED_RANGE_10 * worst,
            "simulations_for_0.05": max(need, S)}


def _finish(choices, channels, is_c, extra, joined, Rc, Rr, V, sims, prev_const, S, seed, level, rule, notes,
            imputed_at, arrival_info, completion_info, ext, method, ml=None, parts=None) -> ProjectionResult:
    """Shares, lead, intervals and verdict probabilities from simulated uncounted totals.
    ``parts``: the draws' conditional normal parts (:func:`_conditional`), for the bounds."""
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
    order = np.argsort(-point_share)
    ia, ib = (int(order[0]), int(order[1])) if nch > 1 else (0, 0)
    lead = share[:, ia] - share[:, ib]
    lead_point = float(point_share[ia] - point_share[ib])
    l_lo, l_hi = np.quantile(lead, [a, 1 - a])
    qs = [0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975]
    lead_q = np.quantile(lead, qs)
    if parts is not None:
        cb = _conditional(parts, counted_tot, nch, ia, ib, level, qs)
        (lo, hi), (l_lo, l_hi), lead_q = cb["shares"], cb["lead"][:2], cb["lead"][2:]
        mc = _conditional_error(cb["shares_se"][0], cb["shares_se"][1], S, cb["lead_se"])
    else:
        mc = _bound_error(share, a, lead)
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
        lead_quantiles={str(q): float(v) for q, v in zip(qs, lead_q)},
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
