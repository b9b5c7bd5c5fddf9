"""Digit tests on table-level vote counts.

* Second-digit Benford (2BL) mean and distribution: Mebane, W. R. (2006), "Election
  forensics: vote counts and Benford's law", Summer Meeting of the Political Methodology
  Society; Pericchi & Torres (2011), Statistical Science 26(4).
* Last digit, mean last digit, counts ending in 0 or 5, and last-two-digit pair tests
  (repeated and adjacent digits): Beber, B. & Scacco, A. (2012), "What the numbers say:
  a digit-based test for election fraud", Political Analysis 20(2), 211-234.
* Why two nulls: Deckert, J., Myagkov, M. & Ordeshook, P. C. (2011), "Benford's law and
  the detection of election fraud", Political Analysis 19(3), 245-268, show that 2BL
  rejects for clean elections because real counts are not Benford-distributed.

Units: every (station, counted choice) vote count of at least ``min_count`` (default 10,
so that a second and a penultimate digit exist), from stations with valid votes.

Two nulls for every test:

* classical: the textbook digit law (Benford's second-digit law; uniform last digit;
  last two digits uniform on 00-99), counts treated as independent;
* simulated: each count is redrawn as Binomial(valid_i, count_ij/valid_i) at its own
  station's observed rate (binomial resampling; for cells with n p (1-p) >= 4 the
  binomial is drawn by its rounded normal approximation, which is indistinguishable for
  digits and ten times faster); the count threshold is applied after resampling. The
  statistic is recomputed on every draw. For means and shares the p-value is a t
  prediction tail from the draws' mean and sd rather than their rank, which could not go
  below 1/(S+1) and so could never survive Holm. For the two chi-square tests the rank
  p-value is kept: the smooth alternative (an F tail against moment-matched simulated
  distances, ``p_smooth`` in the details) was anti-conservative in the calibration study
  (false-positive rates 0.105 and 0.115 at alpha 0.05). Because
  resampling around noisy observed rates adds a second layer of binomial noise, every
  simulated statistic is shifted by the change one more generation of resampling
  produces (bootstrap bias correction, Efron & Tibshirani 1993, ch. 10). This null keeps
  the election's own heterogeneity: it asks "are the digits what counting noise around
  these rates produces?"

Recommended: the simulated null for 2BL (Deckert et al. 2011); both agree for
last-digit tests on counts >= 10 except where many counts are small, where the classical
uniform law is itself wrong and the simulated one should be used.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from escrutinio.forensics.core import StationData, TestResult, chi2_p_value, mc_p_value, smooth_p_value

BENFORD2 = np.array([sum(np.log10(1 + 1 / (10 * k + d)) for k in range(1, 10)) for d in range(10)])
CITE_2BL = "Mebane (2006); Deckert, Myagkov & Ordeshook (2011), Political Analysis 19(3)"
CITE_BS = "Beber & Scacco (2012), Political Analysis 20(2):211-234"


def _digit_tables(vmax: int):
    """Lookup tables from a count value to its second, last and penultimate digits."""
    v = np.arange(vmax + 1)
    nd = np.where(v > 0, np.floor(np.log10(np.maximum(v, 1)) + 1e-9).astype(int), 0)
    second = np.where(v >= 10, (v // (10 ** np.maximum(nd - 1, 0))) % 10, -1)
    last = v % 10
    pen = np.where(v >= 10, (v // 10) % 10, -1)
    return second, last, pen


def _stats_from_hist(h: np.ndarray, second, last, pen) -> dict:
    """All digit statistics from a histogram of count values (h[v] = #cells equal to v)."""
    n2 = h[second >= 0].sum()
    d2 = np.bincount(second[second >= 0], weights=h[second >= 0], minlength=10)
    dl = np.bincount(last, weights=h, minlength=10)
    n = h.sum()
    rep = h[(pen >= 0) & (pen == last)].sum()
    adj = h[(pen >= 0) & (np.abs(pen - last) == 1)].sum()
    return {"n": n, "d2": d2, "dl": dl, "mean2": (d2 * np.arange(10)).sum() / max(n2, 1),
            "meanl": (dl * np.arange(10)).sum() / max(n, 1), "zero_five": (dl[0] + dl[5]) / max(n, 1),
            "repeated": rep / max(n, 1), "adjacent": adj / max(n, 1)}


def _resample(counts: np.ndarray, n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = counts / np.maximum(n, 1)
    var = n * p * (1 - p)
    out = np.empty(len(counts), np.int64)
    small = var < 4
    out[small] = rng.binomial(n[small], p[small])
    big = ~small
    z = rng.standard_normal(int(big.sum()), dtype=np.float32)
    out[big] = np.clip(np.rint(counts[big] + np.sqrt(var[big]) * z), 0, n[big]).astype(np.int64)
    return out


def _chi2(obs: np.ndarray, expected_p: np.ndarray) -> float:
    n = obs.sum()
    e = expected_p * n
    ok = e > 0
    return float(((obs[ok] - e[ok]) ** 2 / e[ok]).sum())


def _chi2_vs_simulated(observed: np.ndarray, simulated: list[np.ndarray]):
    """Chi-square distance of the observed digit counts to the simulated digit law, and
    of every simulated draw to the law estimated from the *other* draws (leave-one-out),
    so that each draw is judged like the observed data: against a law it did not shape."""
    f = np.array([x / max(x.sum(), 1) for x in simulated])
    s = len(f)
    centre = f.mean(axis=0)
    obs_stat = _chi2(observed, centre)
    loo = (s * centre[None, :] - f) / max(s - 1, 1)
    sims = np.array([_chi2(x, c) for x, c in zip(simulated, loo)])
    return centre, obs_stat, sims


def digit_tests(data: StationData, sims: int | None = None, seed=None, min_count: int = 10,
                scope: str = "all", cell_budget: float = 1e7) -> list[TestResult]:
    """Run the digit battery; returns one :class:`TestResult` per test, each carrying the
    classical and simulated p-values (``p_value`` is the recommended one).

    ``sims`` defaults to as many binomial resamples as fit ``cell_budget`` resampled cells
    (between 19 and 199)."""
    rng = np.random.default_rng(seed)
    ok_station = data.valid > 0
    votes = data.votes[ok_station]
    valid = np.broadcast_to(data.valid[ok_station][:, None], votes.shape)
    cell = votes >= min_count
    counts = votes[cell].astype(np.int64)
    excluded = {}
    if (~ok_station).any():
        excluded["stations without valid votes"] = int((~ok_station).sum())
    excluded[f"counts below {min_count}"] = int((~cell).sum())
    m = len(counts)
    if m == 0:
        return []
    # resample every count that could reach min_count, and apply the threshold after
    # resampling, so that observed and simulated statistics select cells the same way
    pool = votes >= max(1, min_count // 5)
    pc = votes[pool].astype(np.int64)
    pn = valid[pool].astype(np.int64)
    if sims is None:
        sims = int(np.clip(cell_budget // max(2 * len(pc), 1), 19, 199))
    vmax = int(pn.max())
    second, last, pen = _digit_tables(vmax)

    def stats_of(x):
        x = x[x >= min_count]
        return _stats_from_hist(np.bincount(x, minlength=vmax + 1), second, last, pen)

    obs = stats_of(counts)
    sim, sim2 = [], []
    for _ in range(sims):
        x1 = _resample(pc, pn, rng)
        sim.append(stats_of(x1))
        # a second generation (resampling the resample) measures how much one round of
        # resampling moves each statistic; subtracting that shift centres the null on
        # the observed data rather than on a doubly-noised copy (bootstrap bias correction)
        sim2.append(stats_of(_resample(x1, pn, rng)))
    for key in ("mean2", "meanl", "zero_five", "repeated", "adjacent"):
        shift = np.mean([b[key] for b in sim2]) - np.mean([a[key] for a in sim])
        for a in sim:
            a[key] = a[key] - shift
    for key in ("d2", "dl"):
        f1 = np.array([a[key] / max(a[key].sum(), 1) for a in sim])
        f2 = np.array([b[key] / max(b[key].sum(), 1) for b in sim2])
        shift = f2.mean(axis=0) - f1.mean(axis=0)
        for a, row in zip(sim, f1):
            a[key] = np.clip(row - shift, 0, None) * a[key].sum()
    n2 = obs["d2"].sum()
    out: list[TestResult] = []
    sim_null = f"binomial resampling at each station's observed rates ({sims} draws)"

    def add(name, stat, p_cl, p_sim, null_cl, effect, eff_name, caveat, cite, recommended="simulated", extra=None):
        p = p_sim if recommended == "simulated" else p_cl
        out.append(TestResult(
            name=name, statistic=float(stat), p_value=p, null=(sim_null if recommended == "simulated" else null_cl),
            n_units=int(n2 if name.startswith("2bl") else obs["n"]), caveat=caveat, scope=scope,
            effect_size=effect, effect=eff_name, p_value_classical=p_cl, p_value_simulated=p_sim,
            recommended=recommended, excluded=excluded, citation=cite,
            details={"classical_null": null_cl, "simulated_null": sim_null, **(extra or {})}))

    # 2BL mean: classical z-test against the Benford mean with the Benford digit variance
    mu = (BENFORD2 * np.arange(10)).sum()
    var = (BENFORD2 * (np.arange(10) - mu) ** 2).sum()
    z = (obs["mean2"] - mu) / np.sqrt(var / max(n2, 1))
    sims_mean2 = np.array([s["mean2"] for s in sim])
    caveat_2bl = ("Real vote counts need not follow Benford's law: the classical 2BL null rejects clean elections "
                  "(Deckert, Myagkov & Ordeshook 2011). Read the simulated p-value; even then a departure is an "
                  "anomaly, not evidence of fraud.")
    add("2bl_mean", obs["mean2"], float(2 * stats.norm.sf(abs(z))), smooth_p_value(obs["mean2"], sims_mean2, "two", 2),
        f"Benford second-digit law, mean {mu:.4f}", float(obs["mean2"] - mu), "mean minus Benford mean",
        caveat_2bl, CITE_2BL, extra={"benford_mean": mu, "simulated_mean": float(sims_mean2.mean()),
                                     "digits": obs["d2"].tolist()})
    # 2BL distribution
    chi_cl = _chi2(obs["d2"], BENFORD2)
    sim_p2, chi_sim_obs, chi_sims = _chi2_vs_simulated(obs["d2"], [s["d2"] for s in sim])
    add("2bl_distribution", chi_cl, float(stats.chi2.sf(chi_cl, 9)), mc_p_value(chi_sim_obs, chi_sims),
        "Benford second-digit law, chi-square 9 df", float(np.sqrt(chi_cl / max(n2, 1))), "Cohen's w",
        caveat_2bl, CITE_2BL, extra={"chi2_vs_simulated": chi_sim_obs, "simulated_digit_p": sim_p2.tolist(),
                                     "p_smooth": chi2_p_value(chi_sim_obs, chi_sims, 2)})
    # last digit distribution
    uni = np.full(10, 0.1)
    chi_l = _chi2(obs["dl"], uni)
    sim_pl, chi_l_sim_obs, chi_l_sims = _chi2_vs_simulated(obs["dl"], [s["dl"] for s in sim])
    caveat_last = ("Last digits of counts >= 10 are close to uniform under honest counting; a departure means the "
                   "reported digits are unusual (e.g. invented numbers), which observers should check on the actas. "
                   "Not evidence of fraud by itself.")
    add("last_digit_distribution", chi_l, float(stats.chi2.sf(chi_l, 9)), mc_p_value(chi_l_sim_obs, chi_l_sims),
        "uniform last digit, chi-square 9 df", float(np.sqrt(chi_l / max(obs["n"], 1))), "Cohen's w",
        caveat_last, CITE_BS, extra={"digits": obs["dl"].tolist(), "simulated_digit_p": sim_pl.tolist(),
                                     "p_smooth": chi2_p_value(chi_l_sim_obs, chi_l_sims, 2)})
    # mean last digit
    zl = (obs["meanl"] - 4.5) / np.sqrt(8.25 / obs["n"])
    add("last_digit_mean", obs["meanl"], float(2 * stats.norm.sf(abs(zl))),
        smooth_p_value(obs["meanl"], np.array([s["meanl"] for s in sim]), "two", 2),
        "uniform last digit, mean 4.5", float(obs["meanl"] - 4.5), "mean minus 4.5", caveat_last, CITE_BS)
    # ending in 0 or 5
    k05 = int(round(obs["zero_five"] * obs["n"]))
    add("last_digit_zero_five", obs["zero_five"], float(stats.binomtest(k05, int(obs["n"]), 0.2).pvalue),
        smooth_p_value(obs["zero_five"], np.array([s["zero_five"] for s in sim]), "two", 2),
        "share of counts ending in 0 or 5 = 0.2 (binomial)", float(obs["zero_five"] - 0.2), "share minus 0.2",
        caveat_last, CITE_BS)
    # Beber-Scacco pairs
    for key, p0, label in (("repeated", 0.1, "last two digits equal"), ("adjacent", 0.18, "last two digits differ by 1")):
        k = int(round(obs[key] * obs["n"]))
        add(f"last_pair_{key}", obs[key], float(stats.binomtest(k, int(obs["n"]), p0).pvalue),
            smooth_p_value(obs[key], np.array([s[key] for s in sim]), "two", 2),
            f"{label}: share {p0} under uniform last two digits (binomial)", float(obs[key] - p0),
            f"share minus {p0}", caveat_last, CITE_BS)
    return out
