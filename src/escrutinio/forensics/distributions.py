"""Distribution tests on station turnout and leader share.

* Skewness and kurtosis of turnout and leader share: Myagkov, M., Ordeshook, P. C. &
  Shakin, D. (2009), "The Forensics of Election Fraud: Russia and Ukraine", Cambridge
  University Press. Tests: D'Agostino (1970) skewness and Anscombe & Glynn (1983)
  kurtosis tests against a normal population.
* Dip test of unimodality: Hartigan & Hartigan (1985), Ann. Statist. 13(1) (see
  :mod:`escrutinio.forensics.dip`), on (k + U)/(n + 1) with U uniform, which spreads the
  atoms of small-integer ratios (exactly 1/2, 2/3...) over their cells.
* Turnout-share correlation and slope (Sobyanin & Sukhovolsky 1993, as presented in
  Myagkov, Ordeshook & Shakin 2009, ch. 2): the regression of the leader's votes per
  registered voter on turnout; a slope above the leader's share means the leader gains
  more than proportionally where turnout is higher.
* Percentages ending in 0 or 5 (P05s) are computed with the integer-percentage engine
  (:func:`escrutinio.forensics.integer_percentages.round_number_tests`, ``"p05"``).

Which p-values are calibrated: skewness, kurtosis and the correlation/slope use
classical nulls (normality; zero correlation) that real, heterogeneous but clean
elections violate. They are reported as descriptive (``in_family`` = False) and never
enter the multiple-testing family. The dip test (uniform = least favourable unimodal
null, conservative) and P05s (binomial resampling) are calibrated for unimodal clean
elections; a genuinely polarised country (regional voting) is bimodal without fraud,
which the placebo comparison shows.
"""
from __future__ import annotations

import numpy as np
from escrutinio.forensics import _stats as stats

from escrutinio.forensics.core import StationData, StationFilter, TestResult
from escrutinio.forensics.dip import dip_test
from escrutinio.forensics.integer_percentages import hit_p05  # noqa: F401  (re-exported)

CITE_MOS = "Myagkov, Ordeshook & Shakin (2009), The Forensics of Election Fraud"
CITE_DIP = "Hartigan & Hartigan (1985), Ann. Statist. 13(1):70-84"
CITE_P05 = "Beber & Scacco (2012); Kalinin & Mebane, Election Forensics Toolkit"


def rates(data: StationData, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = data.emitted[keep] / data.registered[keep]
    s = data.votes[keep, data.leader_index] / data.share_base[keep]
    return t, s


def distribution_tests(data: StationData, station_filter: StationFilter | None = None, seed=None,
                       draws: int = 1000, scope: str = "all", dip_max_n: int = 20_000,
                       kurtosis: str = "excess", dip_values: str = "spread") -> list[TestResult]:
    """``kurtosis``: "excess" (g2, 0 for a normal) or "pearson" (b2 = g2 + 3, not in excess,
    as EFToolkit reports it); the test is the same. ``dip_values``: "spread" (each k/n
    spread over its cell, seeded; at most ``dip_max_n`` tables, sampled) or "raw" (the
    ratios themselves, every table: EFToolkit's DipT, independent of the seed)."""
    filt = station_filter or StationFilter()
    keep, excluded = filt.apply(data)
    t, s = rates(data, keep)
    n = int(keep.sum())
    out: list[TestResult] = []
    if n < 20:
        return out
    rng_dip = np.random.default_rng(seed)
    emi_all, reg_all = data.emitted[keep], data.registered[keep]
    lead_all, val_all = data.votes[keep, data.leader_index], data.share_base[keep]
    desc_caveat = ("Descriptive: the normal reference is not a model of clean elections, which are rarely normal "
                   "(heterogeneous regions). Not part of the multiple-testing family; an anomaly, never proof of fraud.")
    for label, x in (("turnout", t), ("leader_share", s)):
        sk = stats.skewtest(x)
        g1 = stats.skew(x)
        out.append(TestResult(f"{label}_skewness", g1, sk,
                              "normal population (D'Agostino skewness test)", n, desc_caveat, scope,
                              effect_size=g1, effect="skewness (population)", p_value_classical=sk,
                              recommended="classical", excluded=excluded, citation=CITE_MOS,
                              details={"in_family": False}))
        ku = stats.kurtosistest(x)
        k2 = stats.kurtosis(x, excess=(kurtosis == "excess"))
        out.append(TestResult(f"{label}_kurtosis", k2, ku,
                              "normal population (Anscombe-Glynn kurtosis test)", n, desc_caveat, scope,
                              effect_size=k2, effect=("excess kurtosis" if kurtosis == "excess"
                                                      else "kurtosis, not in excess (3 for a normal)"),
                              p_value_classical=ku, recommended="classical", excluded=excluded,
                              citation=CITE_MOS, details={"in_family": False}))
        # turnouts and shares are ratios of small integers with atoms at 1/2, 2/3...; an
        # atom is not a continuous unimodal law, so the dip would fire on it. Spreading
        # each k/n uniformly over its own cell ((k + U)/(n + 1)) removes the atoms
        # without moving any value by more than 1/(n+1).
        kk, nn = (emi_all, reg_all) if label == "turnout" else (lead_all, val_all)
        if dip_values == "raw":
            d, p, used = dip_test(kk / nn, max_n=None)
        else:
            xj = (kk + rng_dip.random(len(kk))) / (nn + 1)
            d, p, used = dip_test(xj, max_n=dip_max_n, seed=seed)
        out.append(TestResult(f"{label}_dip", d, p, "unimodal (uniform, the least favourable unimodal law)"
                              + (" on the raw ratios" if dip_values == "raw" else ""), used,
                              "Bimodality can come from genuinely different regions or groups of voters; it is "
                              "a pattern to explain, not evidence of fraud.", scope, effect_size=d, effect="dip",
                              p_value_classical=p, recommended="classical", excluded=excluded, citation=CITE_DIP,
                              details={"in_family": True, "subsampled_from": n if used < n else None}))
    # turnout-share association
    r, p_r = stats.pearsonr(t, s)
    out.append(TestResult("turnout_share_correlation", float(r), float(p_r), "zero Pearson correlation (t-test)", n,
                          "Turnout and support correlate in clean elections too when regions differ (ecological "
                          "correlation). Descriptive; not part of the multiple-testing family.", scope,
                          effect_size=float(r), effect="Pearson r", p_value_classical=float(p_r),
                          recommended="classical", excluded=excluded, citation=CITE_MOS,
                          details={"in_family": False}))
    y = data.votes[keep, data.leader_index] / data.registered[keep]
    slope, slope_se, slope_p = stats.linregress(t, y)
    share = float(data.votes[keep, data.leader_index].sum() / data.share_base[keep].sum())
    out.append(TestResult("sobyanin_sukhovolsky_slope", float(slope), float(slope_p),
                          "zero slope of leader votes per registered voter on turnout (OLS t-test)", n,
                          f"A slope above the leader's share ({share:.3f}) means the leader gains more than "
                          "proportionally where turnout is high; mobilisation differences do this without fraud. "
                          "Descriptive; not part of the multiple-testing family.", scope,
                          effect_size=float(slope - share), effect="slope minus leader share",
                          p_value_classical=float(slope_p), recommended="classical", excluded=excluded,
                          citation="Sobyanin & Sukhovolsky (1993); " + CITE_MOS,
                          details={"in_family": False, "slope_se": float(slope_se), "leader_share": share}))
    return out
