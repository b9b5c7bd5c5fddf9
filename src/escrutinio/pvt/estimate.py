"""PVT estimation: combined ratio estimators of shares under stratified sampling of
polling tables (each table a cluster of voters), with finite population correction.

For a choice ``c`` the share of valid votes is ``R_c = Y_c / X`` (``y`` its votes and
``x`` the valid votes of a table). From the reported tables of stratum ``h`` (``n_h`` of
``N_h``)::

    Ŷ_c = Σ_h N_h ȳ_hc,   X̂ = Σ_h N_h x̄_h,   R̂_c = Ŷ_c / X̂
    e_ic = y_ic − R̂_c x_i                               (residual of table i)
    Cov(R̂_c, R̂_d) ≈ Σ_h N_h² (1 − n_h/N_h) s_h(e_c, e_d) / n_h / X̂²

with ``s_h`` the within-stratum sample covariance (Cochran 1977, *Sampling Techniques*,
§6.11-6.12, combined ratio estimate; Lohr 2019, *Sampling: Design and Analysis*, §4.5 and
§6.4 where each table is a cluster of ballots; the ratio estimator of INE's quick count in
Mendoza & Nieto-Barajas 2016). Intervals are normal, ``R̂ ± z·SE``. A stratum with one
reported table borrows the pooled within-stratum covariance; a stratum with none cannot
be estimated and is left out (said in the output).

Null/interval: a 95% interval that, over repeated draws of the design, covers the share
of the whole count in about 95% of samples (checked by simulation in
``benchmarks/bench_pvt.py`` and ``tests/pvt``). Missing tables are assumed to be like the
reported ones of their stratum; the sensitivity line says how far they would have to
differ to change the verdict.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import polars as pl
from scipy.stats import norm

from escrutinio.errors import UsageError
from escrutinio.law.presidential import PresidentialRule, decide
from escrutinio.pvt.design import Design, check_election

CAVEAT = ("A PVT measures the actas of a random sample of tables as the watchers report them. Its interval "
          "covers sampling error only: it assumes the reports are transcribed correctly and that missing "
          "sampled tables resemble the reported ones of their stratum. A difference from the official count "
          "is a discrepancy to explain, not by itself evidence of fraud.")
SOURCES = ("Cochran (1977) Sampling Techniques, 3rd ed., §5.5, §6.11-6.12; Lohr (2019) Sampling: Design and "
           "Analysis, 2nd ed., ch. 4 and 6; Mendoza & Nieto-Barajas (2016) Quick counts in the Mexican "
           "presidential elections: a Bayesian approach, Electoral Studies 43")


# ------------------------------------------------------------------ core
def ratio_estimate(y: np.ndarray, x: np.ndarray, codes: np.ndarray, N: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Combined ratio estimates ``R̂`` (k,), their covariance (k, k), the estimated
    totals ``Ŷ`` (k,) and ``X̂``. ``y`` is (n, k), ``x`` (n,), ``codes`` the stratum index
    of each row and ``N`` the stratum sizes. Strata without rows must have been removed."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    x = np.asarray(x, dtype=np.float64)
    H = len(N)
    nh = np.bincount(codes, minlength=H).astype(np.float64)
    if np.any(nh == 0):
        raise ValueError("every stratum needs at least one row")
    Nf = N.astype(np.float64)
    xbar = np.bincount(codes, weights=x, minlength=H) / nh
    ybar = np.stack([np.bincount(codes, weights=y[:, j], minlength=H) for j in range(y.shape[1])], axis=1) / nh[:, None]
    X = float(Nf @ xbar)
    Y = Nf @ ybar
    if X <= 0:
        raise UsageError("the reported tables have no valid votes")
    R = Y / X
    e = y - np.outer(x, R)
    ebar = np.stack([np.bincount(codes, weights=e[:, j], minlength=H) for j in range(e.shape[1])], axis=1) / nh[:, None]
    ec = e - ebar[codes]
    fpc = 1 - nh / Nf
    multi = nh > 1
    w = np.where(multi, Nf ** 2 * fpc / (nh * np.maximum(nh - 1, 1)), 0.0)
    cov = (ec * w[codes][:, None]).T @ ec
    single = (~multi) & (fpc > 0)
    if single.any():
        dof = float((nh[multi] - 1).sum())
        pooled = ec.T @ ec / dof if dof > 0 else np.zeros((e.shape[1], e.shape[1]))
        cov = cov + float((Nf[single] ** 2 * fpc[single] / nh[single]).sum()) * pooled
    return R, cov / X ** 2, Y, X


def ratio_batch(values: np.ndarray, x: np.ndarray, codes: np.ndarray, N: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same estimator for many samples at once (calibration): ``samples`` is a (D, n)
    array of row indexes, one sample per row; ``values`` (U,) or (U, m) are linear
    combinations of votes per table. Returns ``R̂`` and ``SE`` of shape (D,) or (D, m)."""
    values = np.asarray(values, dtype=np.float64)
    squeeze = values.ndim == 1
    if squeeze:
        values = values[:, None]
    D, n = samples.shape
    H = len(N)
    grp = (np.arange(D)[:, None] * H + codes[samples]).ravel()
    idx = samples.ravel()
    size = D * H
    nh = np.bincount(grp, minlength=size).reshape(D, H).astype(np.float64)
    xs = x[idx]
    sx = np.bincount(grp, weights=xs, minlength=size).reshape(D, H)
    sxx = np.bincount(grp, weights=xs * xs, minlength=size).reshape(D, H)
    Nf = N.astype(np.float64)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        X = (Nf * np.where(nh > 0, sx / nh, 0)).sum(axis=1)
        R_out, se_out = [], []
        for j in range(values.shape[1]):
            vs = values[idx, j]
            sy = np.bincount(grp, weights=vs, minlength=size).reshape(D, H)
            syy = np.bincount(grp, weights=vs * vs, minlength=size).reshape(D, H)
            sxy = np.bincount(grp, weights=vs * xs, minlength=size).reshape(D, H)
            Y = (Nf * np.where(nh > 0, sy / nh, 0)).sum(axis=1)
            R = Y / X
            Rb = R[:, None]
            se_sum = sy - Rb * sx
            see = syy - 2 * Rb * sxy + Rb ** 2 * sxx
            s2 = np.where(nh > 1, (see - se_sum ** 2 / nh) / (nh - 1), 0.0)
            var = (Nf ** 2 * (1 - nh / Nf) * np.where(nh > 0, s2 / nh, 0)).sum(axis=1) / X ** 2
            R_out.append(R)
            se_out.append(np.sqrt(np.maximum(var, 0)))
    R_arr, se_arr = np.stack(R_out, axis=1), np.stack(se_out, axis=1)
    return (R_arr[:, 0], se_arr[:, 0]) if squeeze else (R_arr, se_arr)


def verdict_probabilities(draws: np.ndarray, choices: Sequence[str], rule: PresidentialRule) -> dict:
    """Share of draws (rows: share vectors as fractions) in which each outcome holds, with
    the rule's clauses evaluated as :func:`escrutinio.law.presidential.decide` does."""
    k = draws.shape[1]
    if k == 0 or draws.shape[0] == 0:
        return {}
    leader = np.argmax(draws, axis=1)
    srt = np.sort(draws, axis=1)
    w = srt[:, -1]
    r = srt[:, -2] if k > 1 else np.zeros(len(draws))
    leads = {c: float(np.mean(leader == i)) for i, c in enumerate(choices)}
    out: dict = {"draws": int(len(draws)), "leader": leads}
    if rule.kind == "plurality":
        out["winner"] = leads
        return out
    win = np.zeros(len(draws), dtype=bool)
    for c in rule.clauses:
        t = float(c.min_share)
        ok = (w > t) if c.share_strict else (w >= t)
        if c.min_lead is not None:
            d = float(c.min_lead)
            ok &= ((w - r) > d) if c.lead_strict else ((w - r) >= d)
        win |= ok
    out["first_round_win"] = float(win.mean())
    out["runoff"] = float(1 - win.mean())
    out["first_round_win_by"] = {c: float(np.mean(win & (leader == i))) for i, c in enumerate(choices)}
    return out


def _rng_for(seed: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256(f"{seed}:pvt-estimate".encode()).hexdigest()[:16], 16))


# --------------------------------------------------------------- result
@dataclass
class PVTEstimate:
    """Shares in percent of valid votes; ``lead`` between the two leading choices."""

    choices: dict[str, dict]
    lead: dict
    turnout: dict
    reported: int
    missing: int
    sampled: int
    level: float
    rule: str
    point_verdict: dict
    verdict_probabilities: dict
    sensitivity: dict
    missing_by_stratum: dict[str, int]
    missing_units: list[str]
    strata: dict[str, dict]
    ignored_rows: int
    excluded_strata: list[str]
    design_sha256: str
    covariance: list[list[float]] = field(repr=False, default_factory=list)  # of the shares, in points²
    notes: list[str] = field(default_factory=list)
    caveat: str = CAVEAT
    sources: str = SOURCES

    def interval(self, level: float) -> dict[str, dict]:
        """Shares and lead at another confidence level (same point, same SE)."""
        z = float(norm.ppf(0.5 + level / 2))
        out = {c: {"share": v["share"], "lo": v["share"] - z * v["se"], "hi": v["share"] + z * v["se"]}
               for c, v in self.choices.items()}
        out["lead"] = {"point": self.lead["point"], "lo": self.lead["point"] - z * self.lead["se"],
                       "hi": self.lead["point"] + z * self.lead["se"]}
        return out

    def to_dict(self) -> dict:
        r6 = lambda v: round(float(v), 6)  # noqa: E731
        return {
            "choices": {c: {k: r6(v[k]) for k in ("share", "lo", "hi", "se")} | {"votes_estimate": v["votes_estimate"]}
                        for c, v in self.choices.items()},
            "lead": {"between": self.lead["between"], **{k: r6(self.lead[k]) for k in ("point", "lo", "hi", "se")}},
            "turnout": {k: (None if v is None else r6(v)) for k, v in self.turnout.items()},
            "level": self.level,
            "reported": self.reported,
            "missing": self.missing,
            "sampled": self.sampled,
            "missing_by_stratum": self.missing_by_stratum,
            "missing_units": self.missing_units,
            "excluded_strata": self.excluded_strata,
            "ignored_rows": self.ignored_rows,
            "rule": self.rule,
            "point_verdict": self.point_verdict,
            "verdict_probabilities": self.verdict_probabilities,
            "sensitivity": self.sensitivity,
            "strata": self.strata,
            "covariance": [[float(f"{v:.8g}") for v in row] for row in self.covariance],
            "design_sha256": self.design_sha256,
            "method": "combined ratio estimator, stratified cluster (table) variance with finite population correction; normal interval",
            "notes": self.notes,
            "caveat": self.caveat,
            "sources": self.sources,
        }

    def summary(self) -> str:
        pct = round(100 * self.level)
        partial = self.missing > 0
        lines = [f"PVT estimate from {self.reported:,} of {self.sampled:,} sampled tables"
                 + (f" ({self.missing:,} missing)" if partial else " (all reported)")
                 + f", {pct}% intervals"]
        for c in sorted(self.choices, key=lambda c: -self.choices[c]["share"]):
            v = self.choices[c]
            lines.append(f"  {c:<16} {v['share']:6.2f}%  [{v['lo']:6.2f}, {v['hi']:6.2f}]  ±{(v['hi'] - v['lo']) / 2:.2f}")
        a, b = self.lead["between"]
        lines.append(f"  lead {a} over {b}: {self.lead['point']:.2f} points [{self.lead['lo']:.2f}, {self.lead['hi']:.2f}]")
        if self.turnout["point"] is not None:
            lines.append(f"  turnout: {self.turnout['point']:.2f}% [{self.turnout['lo']:.2f}, {self.turnout['hi']:.2f}]")
        vp = self.verdict_probabilities
        if "first_round_win" in vp:
            lines.append(f"  under {self.rule}: P(first-round win) = {vp['first_round_win']:.3f}, P(runoff) = {vp['runoff']:.3f}"
                         f" ({vp['draws']:,} draws from the joint normal of the shares)")
        elif "winner" in vp:
            lines.append("  P(winner): " + ", ".join(f"{c} {p:.3f}" for c, p in vp["winner"].items() if p > 0.0005))
        lines.append(f"  point estimate: {self.point_verdict.get('explanation', '')}")
        lines.append(f"  sensitivity: {self.sensitivity['text']}")
        if self.excluded_strata:
            lines.append(f"  NOT COVERED: strata with no reported table: {', '.join(self.excluded_strata)}")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append(f"  caveat: {self.caveat}")
        return "\n".join(lines)


# ------------------------------------------------------------ estimate
def estimate(design: Design, reports: pl.DataFrame, choices: Sequence[str], rule: PresidentialRule,
             level: float = 0.95, draws: int = 20000, election: dict | None = None) -> PVTEstimate:
    """Estimate shares, turnout, lead and P(verdict) from the sampled tables found in
    ``reports`` (a counted unit frame: ``unit``, the choices, ``registered``, ``emitted``;
    rows for tables outside the sample are ignored)."""
    choices = list(choices)
    if len(choices) == 0:
        raise UsageError("the reports have no choices")
    missing_cols = [c for c in ["unit", *choices, "registered", "emitted"] if c not in reports.columns]
    if missing_cols:
        raise UsageError(f"the reports lack columns {missing_cols}")
    sample = pl.DataFrame({"unit": design.sample, "stratum": design.sample_strata},
                          schema={"unit": pl.Utf8, "stratum": pl.Utf8})
    rep = reports.with_columns(pl.col("unit").cast(pl.Utf8))
    in_sample = rep.join(sample, on="unit", how="semi")
    if in_sample.get_column("unit").is_duplicated().any():
        dup = in_sample.filter(pl.col("unit").is_duplicated()).get_column("unit").unique().sort().head(5).to_list()
        raise UsageError(f"the reports hold several rows for sampled tables {dup}; give one report per table")
    ignored = rep.height - in_sample.height
    got = sample.join(in_sample, on="unit", how="inner")
    # Votes must be integers: a sampled table with an unreadable count is an error, not a gap.
    nulls = got.select([pl.col(c).is_null().sum().alias(c) for c in [*choices, "registered", "emitted"]]).row(0, named=True)
    bad = {c: v for c, v in nulls.items() if v}
    if bad:
        raise UsageError(f"sampled tables with empty vote fields in the reports: {bad}")
    missing_frame = sample.join(in_sample, on="unit", how="anti")
    election_notes = check_election(design, in_sample, election)  # another election's reports are refused

    names = list(design.strata)
    sampled_h = np.array([design.strata[s]["sample"] for s in names], dtype=np.int64)
    N_all = np.array([design.strata[s]["tables"] for s in names], dtype=np.int64)
    code_of = {s: i for i, s in enumerate(names)}
    codes_all = got.get_column("stratum").replace_strict(code_of, return_dtype=pl.Int64).to_numpy()
    rep_h = np.bincount(codes_all, minlength=len(names))
    present = rep_h > 0
    excluded = [s for s, p in zip(names, present) if not p and design.strata[s]["sample"] > 0]
    notes = list(election_notes)
    if got.height == 0:
        raise UsageError(f"none of the {len(design.sample):,} sampled tables is in the reports "
                         "(are the table ids the same as the roll's?)")
    remap = -np.ones(len(names), dtype=np.int64)
    remap[present] = np.arange(present.sum())
    codes = remap[codes_all]
    N = N_all[present]
    if excluded:
        share_out = N_all[~present].sum() / N_all.sum()
        notes.append(f"estimate excludes {len(excluded)} strata with no reported table "
                     f"({100 * share_out:.2f}% of the frame's tables): it is not an estimate of the whole count")

    y = got.select(choices).to_numpy().astype(np.float64)
    x = y.sum(axis=1)
    z = float(norm.ppf(0.5 + level / 2))
    R, cov, Y, X = ratio_estimate(y, x, codes, N)
    se = np.sqrt(np.maximum(np.diag(cov), 0))
    out_choices = {c: {"share": 100 * R[i], "lo": 100 * (R[i] - z * se[i]), "hi": 100 * (R[i] + z * se[i]),
                       "se": 100 * se[i], "votes_estimate": int(round(Y[i]))} for i, c in enumerate(choices)}
    order = np.argsort(-R, kind="stable")
    a = order[0]
    b = order[1] if len(choices) > 1 else order[0]
    vec = np.zeros(len(choices))
    vec[a] += 1
    vec[b] -= 1
    lead_point = 100 * (R[a] - R[b])
    lead_se = 100 * math.sqrt(max(float(vec @ cov @ vec), 0.0))
    lead = {"between": [choices[a], choices[b]], "point": lead_point, "lo": lead_point - z * lead_se,
            "hi": lead_point + z * lead_se, "se": lead_se}

    em = got.get_column("emitted").to_numpy().astype(np.float64)
    reg = got.get_column("registered").to_numpy().astype(np.float64)
    if reg.sum() > 0:
        T, tcov, _, _ = ratio_estimate(em, reg, codes, N)
        tse = math.sqrt(max(float(tcov[0, 0]), 0.0))
        turnout = {"point": 100 * float(T[0]), "lo": 100 * (float(T[0]) - z * tse), "hi": 100 * (float(T[0]) + z * tse),
                   "se": 100 * tse}
    else:  # no registered voters reported: turnout has no base
        turnout = {"point": None, "lo": None, "hi": None, "se": None}

    rng = _rng_for(design.seed)
    mv = rng.multivariate_normal(R, cov, size=draws, method="eigh", check_valid="ignore") if draws > 0 else np.zeros((0, len(choices)))
    probs = verdict_probabilities(mv, choices, rule)
    votes = {c: max(int(round(Y[i])), 0) for i, c in enumerate(choices)}
    verdict = decide(rule, votes)
    point_verdict = verdict.to_dict()
    point_verdict["explanation"] = "PVT point estimate (estimated votes): " + verdict.explanation

    # share of the estimated valid vote that the missing sampled tables stand for
    miss_h = np.maximum(sampled_h - rep_h, 0)
    xbar_h = np.zeros(len(names))
    xbar_h[present] = np.bincount(codes, weights=x, minlength=int(present.sum())) / rep_h[present]
    with np.errstate(divide="ignore", invalid="ignore"):
        w_missing = float(np.where(sampled_h > 0, N_all * miss_h / np.maximum(sampled_h, 1) * xbar_h, 0).sum() / X)
    sens = sensitivity(verdict, rule, 100 * R[a], lead_point, w_missing, choices[a], choices[b], int(miss_h.sum()))

    strata_out = {}
    for h, s in enumerate(names):
        strata_out[s] = {"tables": int(N_all[h]), "sampled": int(sampled_h[h]), "reported": int(rep_h[h]),
                         "missing": int(miss_h[h])}
    missing_by = {s: int(m) for s, m in zip(names, miss_h) if m}
    notes_design = [f"the reports hold {ignored:,} rows for tables outside the sample; they were ignored"] if ignored else []
    return PVTEstimate(
        choices=out_choices, lead=lead, turnout=turnout, reported=int(got.height), missing=int(missing_frame.height),
        sampled=len(design.sample), level=level, rule=rule.name, point_verdict=point_verdict,
        verdict_probabilities=probs, sensitivity=sens, missing_by_stratum=missing_by,
        missing_units=missing_frame.get_column("unit").to_list(), strata=strata_out, ignored_rows=int(ignored),
        excluded_strata=excluded, design_sha256=design.sha256,
        covariance=[[float(v) * 1e4 for v in row] for row in cov], notes=notes + notes_design)


def sensitivity(verdict, rule: PresidentialRule, share: float, lead: float, w: float, a: str, b: str, missing: int) -> dict:
    """How many points of their valid vote the missing sampled tables would have to move
    from the leader ``a`` to the runner-up ``b`` (negative: from ``b`` to ``a``), compared
    with the reported tables of their strata, to move the point estimate across the
    law's line. Moving ``δ`` points lowers the national share by ``w·δ`` and the lead by
    ``2w·δ``, where ``w`` is the share of the estimated valid vote the missing tables
    stand for."""
    base = {"missing_weight": round(w, 6), "shift_points": None, "feasible": None}
    if missing == 0 or w <= 0:
        return base | {"text": "all sampled tables reported: the estimate does not depend on missing tables"}
    if rule.kind == "plurality":
        delta = lead / (2 * w)
        what = f"{b} to overtake {a}"
    else:
        def needs(c):
            """δ at which each condition of clause c crosses its line (shift toward b)."""
            out = [(share - 100 * float(c.min_share)) / w]
            if c.min_lead is not None:
                out.append((lead - 100 * float(c.min_lead)) / (2 * w))
            return out
        # The verdict is a first-round win while some clause holds, i.e. while δ is below
        # max over clauses of (min over the clause's conditions): the same crossing point
        # whether the point estimate is a win (δ > 0) or a runoff (δ < 0).
        delta = max(min(needs(c)) for c in rule.clauses)
        what = ("the estimate to fall into a runoff" if verdict.outcome == "first_round_win"
                else f"{a} to win in the first round")
    delta = float(delta)
    feasible = bool(abs(delta) <= 100)
    direction = f"from {a} to {b}" if delta >= 0 else f"from {b} to {a}"
    text = (f"the {missing:,} missing sampled tables (about {100 * w:.2f}% of the estimated valid vote) would have to "
            f"move {abs(delta):.2f} points of their valid vote {direction}, compared with the reported tables of "
            f"their strata, for {what}" + ("" if feasible else " — more than the whole vote: impossible"))
    return base | {"shift_points": round(delta, 4), "feasible": feasible, "text": text}
