"""Integer percentages (Kobak, Shpilkin & Pshenichnikov 2016) and coarse vote-share spikes
(Rozenas 2017).

Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2016). "Integer percentages as electoral
falsification fingerprints." Annals of Applied Statistics 10(1), 54-73.
Rozenas, A. (2017). "Detecting election fraud from irregularities in vote-share
distributions." Political Analysis 25(1), 41-56.

Null hypothesis (both tests): every station's count is a binomial draw with the station's
own observed rate, turnout votes ~ Bin(registered, emitted/registered) and leader votes
~ Bin(valid, leader/valid), independently across stations and between the two. This is
Kobak et al.'s Monte-Carlo null; it keeps the station sizes, which is what makes "round"
values common at small stations (Rozenas's point).

p-value: one-sided, from the normal tail of the Monte-Carlo null (mean and sd of the
draws, continuity-corrected); the rank p-value (floored at 1/(draws + 1), too coarse
to survive Holm across a battery) is reported as ``p_value_rank``.

Statistic: the number of stations whose turnout (resp. leader share) lies within +-0.05
percentage points of an integer percentage ("turnout", "leader", "either"); for the
Rozenas test, the number of stations whose value equals a coarse fraction exactly
(multiples of 1/20, and 1/3, 2/3).

How the null is computed (why it is fast): for each station the probability q_i that its
binomial draw lands on a hit is computed exactly from the binomial pmf (log-space
recursion over +-6 sd). The simulated count is a sum of independent Bernoulli(q_i). The
1,000 Monte-Carlo draws of the three counts are drawn jointly from the normal with their
exact mean and covariance (sums of many independent Bernoullis; the p-value is a normal
tail anyway); for small elections (a null sd below 5) from stations pooled into 32 x 32
cells of (q_turnout, q_leader), one multinomial per cell, whose variance is at most
slightly overstated (reported as ``variance_excess``), so the p-value errs on the
conservative side. Exact mean and sd are reported too.

Caveat: an excess of integer or coarse values means reported numbers were more often
round than chance allows; it is consistent with numbers being written rather than
counted, but also with rounding conventions or data entry habits. It is not evidence of
fraud by itself.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

import numpy as np

from escrutinio.forensics._stats import norm_sf
from escrutinio.forensics.core import StationData, StationFilter, TestResult, _json, mc_p_value

CITATION_KOBAK = "Kobak, Shpilkin & Pshenichnikov (2016), Ann. Appl. Stat. 10(1):54-73"
CITATION_ROZENAS = "Rozenas (2017), Political Analysis 25(1):41-56"


def hit_integer_percent(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Exact integer test: 100 k/n within 0.05 of an integer <=> (2000k mod 20n) <= n or >= 19n."""
    rem = np.mod(2000 * k, 20 * n)
    return (rem <= n) | (rem >= 19 * n)


def hit_coarse(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """k/n equals a multiple of 1/20 or 1/3 strictly between 0 and 1 (exact integers)."""
    inside = (k > 0) & (k < n)
    return inside & ((np.mod(20 * k, n) == 0) | (np.mod(3 * k, n) == 0))


def hit_probability(n: np.ndarray, k_obs: np.ndarray, hits, sds: float = 6.0) -> list[np.ndarray]:
    """P(hit(X, n)) for X ~ Bin(n, k_obs/n), per station and per hit function in ``hits``,
    exact up to the tail mass beyond ``sds`` standard deviations (about 1e-9). Each
    distinct (n, k) pair is computed once (:mod:`.binomial`)."""
    from escrutinio.forensics.binomial import hit_probability_pairs

    single = callable(hits)
    outs = hit_probability_pairs(n, k_obs, [hits] if single else list(hits), sds)
    return outs[0] if single else outs


def _joint_draws(qa: np.ndarray, qb: np.ndarray, draws: int, rng: np.random.Generator,
                 cells: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Draws of (#a hits, #b hits, #either) for independent Bernoulli(qa_i), Bernoulli(qb_i).

    When every count has a null sd of at least 5 the three counts are drawn from the normal
    with their exact mean and covariance (sums of thousands of independent Bernoullis; the
    p-value is a normal tail anyway), which costs nothing and overstates nothing. Otherwise,
    for up to 4 million station-draws (small areas), every station's Bernoullis are drawn
    (exact); beyond, stations are pooled into ``cells`` x ``cells`` cells of (qa, qb) with
    one multinomial per cell, whose variance overstatement is returned."""
    if len(qa) == 0:
        z = np.zeros(draws)
        return z, z, z, 0.0
    qe = qa + qb - qa * qb
    va, vb, ve = (qa * (1 - qa)).sum(), (qb * (1 - qb)).sum(), (qe * (1 - qe)).sum()
    if min(va, vb, ve) >= 25:
        # Cov(a, b) = 0; Cov(A, A or B) = qa (1 - qe) per station
        cae, cbe = (qa * (1 - qe)).sum(), (qb * (1 - qe)).sum()
        cov = np.array([[va, 0.0, cae], [0.0, vb, cbe], [cae, cbe, ve]])
        lam, vec = np.linalg.eigh(cov)
        x = np.array([qa.sum(), qb.sum(), qe.sum()]) + rng.standard_normal((draws, 3)) @ (
            vec * np.sqrt(np.clip(lam, 0, None))).T
        return x[:, 0], x[:, 1], x[:, 2], 0.0
    if len(qa) * draws <= 4_000_000:
        # a small area: every station's two Bernoullis drawn directly, which is exact (no
        # pooling, no variance overstatement) and cheaper than a multinomial per cell
        a = np.zeros(draws)
        b = np.zeros(draws)
        e = np.zeros(draws)
        step = max(1, 4_000_000 // max(len(qa), 1))
        for start in range(0, draws, step):
            k = min(step, draws - start)
            ha = rng.random((k, len(qa))) < qa
            hb = rng.random((k, len(qb))) < qb
            a[start:start + k] = ha.sum(1)
            b[start:start + k] = hb.sum(1)
            e[start:start + k] = (ha | hb).sum(1)
        return a, b, e, 0.0
    ra = np.minimum((np.argsort(np.argsort(qa, kind="stable"), kind="stable") * cells) // len(qa), cells - 1)
    rb = np.minimum((np.argsort(np.argsort(qb, kind="stable"), kind="stable") * cells) // len(qb), cells - 1)
    cell = ra * cells + rb
    m = np.bincount(cell, minlength=cells * cells).astype(np.int64)
    both = qa * qb
    a_only = qa * (1 - qb)
    b_only = (1 - qa) * qb
    def mean(x):
        return np.bincount(cell, weights=x, minlength=cells * cells) / np.maximum(m, 1)
    pb, pa, pbb = mean(both), mean(a_only), mean(b_only)
    # variance overstatement from pooling = sum over stations of (q_i - cell mean)^2, per count
    var_excess = float(((qa - mean(qa)[cell]) ** 2).sum())
    used = m > 0
    m, pb, pa, pbb = m[used], pb[used], pa[used], pbb[used]
    n_both = rng.binomial(m, np.clip(pb, 0, 1), size=(draws, len(m)))
    rest = m - n_both
    n_a = rng.binomial(rest, np.clip(pa / np.maximum(1 - pb, 1e-300), 0, 1))
    rest = rest - n_a
    n_b = rng.binomial(rest, np.clip(pbb / np.maximum(1 - pb - pa, 1e-300), 0, 1))
    a = (n_both + n_a).sum(1)
    b = (n_both + n_b).sum(1)
    e = (n_both + n_a + n_b).sum(1)
    return a.astype(float), b.astype(float), e.astype(float), var_excess


@dataclass
class SpikeCount:
    observed: int
    expected: float
    excess: float
    sd: float
    p_value: float
    expected_exact: float
    sd_exact: float
    p_value_rank: float

    def to_dict(self) -> dict:
        return _json(asdict(self))


@dataclass
class RoundNumberResult:
    """Counts of round values against the binomial null, for turnout, leader and either."""

    method: str
    turnout: SpikeCount
    leader: SpikeCount
    either: SpikeCount
    leader_name: str
    n_units: int
    excluded: dict[str, int]
    draws: int
    filter: dict
    variance_excess: float
    null: str
    caveat: str
    citation: str
    scope: str = "all"

    def summary(self) -> str:
        from escrutinio.forensics.core import fmt_p

        lines = [f"{self.method.capitalize()} ({self.scope}) on {self.n_units:,} tables "
                 f"({sum(self.excluded.values()):,} excluded), {self.draws:,} Monte-Carlo draws; leader {self.leader_name}:"]
        rows = [("", "observed", "expected", "excess", "sd", "p")]
        for key in ("turnout", "leader", "either"):
            s: SpikeCount = getattr(self, key)
            rows.append((key, f"{s.observed:,}", f"{s.expected:,.1f}", f"{s.excess:+,.1f}", f"{s.sd:,.1f}",
                         fmt_p(s.p_value)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        lines.append("  " + self.direction())
        lines.append("  " + self.caveat)
        return "\n".join(lines)

    def direction(self) -> str:
        """Which way the tables lean, from the "either" count: more round values than
        chance, fewer, or as many (within one sd), so that the text never says "more" of
        a deficit."""
        from escrutinio.forensics.core import fmt_p

        e = self.either
        what = {"integer percentages": "round (integer) percentages", "coarse fractions": "coarse fractions"}.get(
            self.method, self.method)
        if e.sd > 0 and abs(e.excess) <= e.sd:
            return (f"As many tables with {what} as binomial chance predicts ({e.observed:,} observed, "
                    f"{e.expected:,.1f} expected, sd {e.sd:,.1f}).")
        if e.excess > 0:
            return (f"More tables with {what} than binomial chance: {e.excess:+,.1f} over the {e.expected:,.1f} "
                    f"expected (sd {e.sd:,.1f}, p {fmt_p(e.p_value)}).")
        return (f"Fewer tables with {what} than binomial chance: {-e.excess:,.1f} under the {e.expected:,.1f} "
                f"expected (sd {e.sd:,.1f}); a deficit is no sign of written-in numbers.")

    def to_dict(self) -> dict:
        d = {k: getattr(self, k).to_dict() for k in ("turnout", "leader", "either")}
        d.update(_json({k: getattr(self, k) for k in ("method", "leader_name", "n_units", "excluded", "draws",
                                                    "filter", "variance_excess", "null", "caveat", "citation", "scope")}))
        d["direction"] = self.direction()
        return d

    def as_tests(self) -> list[TestResult]:
        out = []
        short = {"integer percentages": "integer_pct", "coarse fractions": "coarse_spikes"}.get(self.method, "p05")
        for key in (("turnout", "leader") if short == "p05" else ("turnout", "leader", "either")):
            s: SpikeCount = getattr(self, key)
            # P05s is a share of tables (as EFToolkit reports it and as last_digit_zero_five
            # is); the integer and coarse tests count tables (as Kobak et al. and Rozenas do)
            stat = s.observed / self.n_units if short == "p05" and self.n_units else float(s.observed)
            out.append(TestResult(
                name=f"{short}_{key}", statistic=float(stat), p_value=s.p_value, null=self.null,
                n_units=self.n_units, caveat=self.caveat, scope=self.scope,
                effect_size=s.excess / s.expected if s.expected > 0 else None, effect="relative excess",
                p_value_simulated=s.p_value, recommended="simulated", excluded=self.excluded, citation=self.citation,
                details={"observed": s.observed, "expected": s.expected, "sd": s.sd, "excess": s.excess,
                         "unit": "share of tables" if short == "p05" else "tables"},
            ))
        return out


_NULL = "binomial resampling at each station's own rates ({})"
_CAVEAT_INT = ("An excess of round percentages over binomial chance at the same station sizes is consistent with "
               "numbers written rather than counted, but also with rounding habits; not evidence of fraud by itself.")
_CAVEAT_COARSE = ("Coarse shares (1/2, 3/5, 3/4...) occur naturally at small stations; this counts only the excess "
                  "over that. An excess is an anomaly in reported numbers, not evidence of fraud by itself.")


def hit_p05(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Percentage rounded half-up to an integer ends in 0 or 5 (exact integers)."""
    r = (200 * k + n) // (2 * n)
    return np.mod(r, 5) == 0


CITATION_P05 = "Beber & Scacco (2012), Political Analysis 20(2); Kalinin & Mebane, Election Forensics Toolkit"
_CAVEAT_P05 = ("Percentages ending in 0 or 5 more often than counting noise allows suggest rounded, written-in "
               "numbers; an anomaly to check on the actas, not evidence of fraud.")


def hit_p05_half_even(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """round(100 k/n) with R's half-to-even rounding ends in 0 or 5 (exact integers), as
    EFToolkit computes P05s: 0.5 % rounds to 0 %, 2.5 % to 2 %, 1.5 % to 2 %."""
    q, rem = np.divmod(100 * k, n)
    r = q + ((2 * rem > n) | ((2 * rem == n) & (q % 2 == 1)))
    return np.mod(r, 5) == 0


ROUND_HITS = [hit_integer_percent, hit_coarse, hit_p05]


def round_number_tests(data: StationData, draws: int = 1000, seed=None, station_filter: StationFilter | None = None,
                       scope: str = "all", which=("integer", "coarse"), hit_cache=None,
                       p05_rounding: str = "half-up") -> dict[str, RoundNumberResult]:
    """Both round-number tests sharing one pass over the binomial pmfs. Returns
    ``{"integer": ..., "coarse": ...}`` (keys as requested in ``which``)."""
    filt = station_filter or StationFilter()
    keep, excluded = filt.apply(data)
    rng = np.random.default_rng(seed)
    reg, emi, val = data.registered[keep], data.emitted[keep], data.share_base[keep]
    lead = data.votes[keep, data.leader_index]
    spec = {"integer": (hit_integer_percent, "integer percentages", CITATION_KOBAK, _CAVEAT_INT, "Kobak et al. 2016"),
            "coarse": (hit_coarse, "coarse fractions", CITATION_ROZENAS, _CAVEAT_COARSE, "Rozenas 2017"),
            "p05": (hit_p05, "percentages ending in 0 or 5", CITATION_P05, _CAVEAT_P05, "Beber & Scacco 2012")}
    if p05_rounding == "half-even":
        spec["p05"] = (hit_p05_half_even,) + spec["p05"][1:]
    hits = [spec[w][0] for w in which]
    if hit_cache is not None:
        # a cache shared with the placebo copies, holding all three hit functions
        pick = [("integer", "coarse", "p05").index(w) for w in which]   # the cache's p05 follows its rounding
        qt_all, ql_all = hit_cache(reg, emi), hit_cache(val, lead)
        qts, qls = [qt_all[j] for j in pick], [ql_all[j] for j in pick]
    else:
        qts = hit_probability(reg, emi, hits)
        qls = hit_probability(val, lead, hits)
    results = {}
    for w, hit, q_t, q_l in zip(which, hits, qts, qls):
        _, method, citation, caveat, ref = spec[w]
        obs_t = hit(emi, reg)
        obs_l = hit(lead, val)
        a, b, e, vx = _joint_draws(q_t, q_l, draws, rng)
        q_e = q_t + q_l - q_t * q_l
        exact = {"turnout": q_t, "leader": q_l, "either": q_e}
        counts = {}
        for key, obs, sim in (("turnout", obs_t, a), ("leader", obs_l, b), ("either", obs_t | obs_l, e)):
            o = int(obs.sum())
            q = exact[key]
            mean, sd = float(sim.mean()), float(sim.std(ddof=1)) if draws > 1 else float("nan")
            # normal tail of the Monte-Carlo null (continuity-corrected): the count is a sum
            # of many independent Bernoullis; the rank p-value, floored at 1/(draws+1), is kept
            p_norm = float(norm_sf((o - 0.5 - mean) / sd)) if sd > 0 else float(o > mean)
            counts[key] = SpikeCount(observed=o, expected=mean, excess=float(o - mean), sd=sd, p_value=p_norm,
                                     expected_exact=float(q.sum()), sd_exact=float(np.sqrt((q * (1 - q)).sum())),
                                     p_value_rank=mc_p_value(o, sim, "greater"))
        results[w] = RoundNumberResult(
            method=method, turnout=counts["turnout"], leader=counts["leader"], either=counts["either"],
            leader_name=data.leader, n_units=int(keep.sum()), excluded=excluded, draws=draws, filter=filt.to_dict(),
            variance_excess=vx, null=_NULL.format(ref), caveat=caveat, citation=citation, scope=scope)
    return results


def integer_percentages(data: StationData, draws: int = 1000, seed=None, station_filter: StationFilter | None = None,
                        scope: str = "all") -> RoundNumberResult:
    """Kobak et al. (2016) integer-percentage test: excess of stations whose turnout or
    leader share is within +-0.05 points of an integer percentage, against 1,000 binomial
    Monte-Carlo draws (one-sided p-value: more hits than the null)."""
    return round_number_tests(data, draws, seed, station_filter, scope, which=("integer",))["integer"]


def coarse_spikes(data: StationData, draws: int = 1000, seed=None, station_filter: StationFilter | None = None,
                  scope: str = "all") -> RoundNumberResult:
    """Rozenas (2017) coarse vote-share spikes: excess of stations whose turnout or leader
    share equals a coarse fraction (k/20, 1/3, 2/3) against binomial resampling at the
    station's own size and rate, which already makes coarse values frequent at small
    stations. (Rozenas smooths resampled shares with a kernel density; counting exact
    coarse values against the exact binomial null is the same comparison without the
    bandwidth choice.)"""
    return round_number_tests(data, draws, seed, station_filter, scope, which=("coarse",))["coarse"]
