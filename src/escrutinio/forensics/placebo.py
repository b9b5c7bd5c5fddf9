"""Placebo elections, calibration and power.

A test is only as good as its behaviour where we know the answer:

* :func:`placebo_simulated` runs the battery on clean elections simulated *like this one*
  (:func:`escrutinio.forensics.simulate.simulate_like`: same stations, electorates and
  heterogeneity, no fraud) and reports each test's false-positive rate with a Wilson
  95 % interval. A test whose rate is clearly above alpha (one-sided binomial test of the
  rate against alpha, p < 0.01) fires on clean data like this country's and is marked
  *uninformative for this country*.
* :func:`placebo_reference` runs the battery on a reference election (e.g. Bolivia 2019
  for 2020 and vice versa) and lists what fires there: a test that fires on both says
  something about the country's counting or geography, not about one election.
* :func:`calibration` is the acceptance study: clean elections from the Klimek fair model
  with a real electorate (e.g. Bolivia 2019's 34,555 tables); per-test false-positive
  rate at alpha with Wilson intervals, and the family-wise rate after Holm.
* :func:`power` injects Klimek et al. (2012) fraud at known f_i, f_e and reports each
  test's rejection rate after Holm and how often the Klimek fit's intervals cover the
  truth.

Wilson, E. B. (1927), "Probable inference...", JASA 22:209-212 (interval for a rate).
"""
from __future__ import annotations

import time


from escrutinio.forensics._stats import binom_sf_ge
from escrutinio.forensics.battery import BatteryResult, NullCache, in_family, run_battery
from escrutinio.forensics.core import StationData, wilson
from escrutinio.forensics.fingerprint import fit_klimek, parallel_map
from escrutinio.forensics.simulate import inject_klimek, inject_round_numbers, simulate_fair, simulate_like

FAST = dict(klimek=False, outliers=False, by=None)


def _rates(runs: list[BatteryResult], alpha: float) -> dict:
    names: dict[str, list] = {}
    fam_hits = 0
    for r in runs:
        any_fam = False
        for t in r.national():
            names.setdefault(t.name, []).append(t)
            if in_family(t) and t.p_adjusted is not None and t.p_adjusted < alpha:
                any_fam = True
        fam_hits += any_fam
    out = {"tests": {}, "runs": len(runs), "alpha": alpha}
    for name, ts in names.items():
        k = sum(1 for t in ts if t.p_value is not None and t.p_value < alpha)
        lo, hi = wilson(k, len(ts))
        # fires more often than alpha allows: one-sided binomial test at 0.01, so that a
        # battery of ~25 tests does not mark tests uninformative by chance
        p_excess = binom_sf_ge(k, len(ts), alpha)
        out["tests"][name] = {"rate": k / len(ts), "lo": lo, "hi": hi, "k": k, "n": len(ts),
                              "in_family": in_family(ts[0]), "p_excess": p_excess,
                              "uninformative": p_excess < 0.01}
    lo, hi = wilson(fam_hits, len(runs))
    out["family_wise_holm"] = {"rate": fam_hits / max(len(runs), 1), "lo": lo, "hi": hi, "k": fam_hits, "n": len(runs)}
    return out


def placebo_simulated(data: StationData, n_sims: int = 20, seed: int = 0, alpha: float = 0.05,
                      draws: int = 200, klimek_fits: int = 0, klimek_boot: int = 50, progress=None,
                      workers: int | None = None, **battery_kw) -> dict:
    """False-positive rate of every test on clean elections simulated like ``data``.

    ``klimek_fits`` (default 0) also fits the Klimek model to the first simulations. Off by
    default on purpose: these simulations keep every table's observed rates, so they
    inherit any smear of the fingerprint, fraudulent or not, and the fit on them repeats
    the fit on the data. Use the reference-election placebo for the Klimek fit."""
    from escrutinio.forensics.battery import _check_counts

    _check_counts(n_sims=n_sims, seed=seed, draws=draws, klimek_fits=klimek_fits)
    kw = {**FAST, **battery_kw}
    if kw.get("cache") is None:
        kw["cache"] = NullCache().prepare(data)   # the copies share their binomial pmfs

    def one(i):
        # each copy has its own seeds, so the threads give the same answer as one loop;
        # only the national tests are kept, so memory stays at a few elections' size
        x = simulate_like(data, seed=seed + 7919 * i)
        r = run_battery(x, seed=seed + i, draws=draws, **kw)
        r.tests = r.national()
        fit = fit_klimek(x, boot=klimek_boot, seed=seed + i) if i < klimek_fits else None
        if progress is not None:
            progress(1)
        return r, fit

    done = parallel_map(one, range(n_sims), workers)
    runs = [r for r, _ in done]
    fits = [f for _, f in done if f is not None]
    out = _rates(runs, alpha)
    out["kind"] = "simulated clean elections like the observed one (simulate_like)"
    out["klimek"] = [{"f_i": f.f_i, "ci_f_i": f.ci_f_i, "f_e": f.f_e, "ci_f_e": f.ci_f_e, "at_boundary": f.at_boundary}
                     for f in fits]
    out["klimek_fires"] = any(f.ci_f_i[0] > 0 or f.ci_f_e[0] > 0 for f in fits)
    return out


def placebo_reference(reference: StationData, seed: int = 0, alpha: float = 0.05, klimek: bool = True,
                      klimek_boot: int = 50, **battery_kw) -> dict:
    """Run the battery (and the Klimek fit) on a reference election; list what fires."""
    kw = {**FAST, **battery_kw}
    r = run_battery(reference, seed=seed, **kw)
    fired = [t.name for t in r.national()
             if (t.p_adjusted if in_family(t) else t.p_value) is not None
             and (t.p_adjusted if in_family(t) else t.p_value) < alpha]
    out = {"kind": f"reference election: {reference.label}", "n_units": reference.n, "fired": fired,
           "tests": {t.name: {"p_value": t.p_value, "p_adjusted": t.p_adjusted, "statistic": t.statistic}
                     for t in r.national()}}
    if klimek:
        f = fit_klimek(reference, boot=klimek_boot, seed=seed)
        out["klimek"] = [{"f_i": f.f_i, "ci_f_i": f.ci_f_i, "f_e": f.f_e, "ci_f_e": f.ci_f_e,
                          "at_boundary": f.at_boundary}]
        out["klimek_fires"] = bool(f.ci_f_i[0] > 0 or f.ci_f_e[0] > 0)
    return out


def mark_uninformative(result: BatteryResult, placebo: dict, name: str) -> None:
    """Record the placebo in ``result`` and mark tests that fire on it."""
    result.placebo = result.placebo or {}
    info = dict(placebo)
    if "fired" not in info:
        info["fired"] = [k for k, v in placebo.get("tests", {}).items() if v.get("uninformative")]
    result.placebo[name] = info
    if info.get("klimek_fires"):
        info["fired"] = list(info["fired"]) + ["klimek_fit"]
        if result.klimek is not None:
            result.klimek.caveat += (f" On the {name} placebo the fit also finds f_i or f_e above 0: "
                                     "uninformative for this country.")
    for t in result.tests:
        if t.scope == "all" and t.name in info["fired"]:
            t.details["uninformative"] = (t.details.get("uninformative") or []) + [name]


def calibration(registered, n_elections: int = 200, seed: int = 0, alpha: float = 0.05, draws: int = 1000,
                **battery_kw) -> dict:
    """False-positive rates on clean Klimek-fair elections with this electorate."""
    kw = {**FAST, **battery_kw}
    t0 = time.perf_counter()
    elections = (simulate_fair(registered, seed=seed + 104729 * i) for i in range(n_elections))
    runs = []
    for i, e in enumerate(elections):
        if i == 0:
            if kw.get("cache") is None:
                kw["cache"] = NullCache().prepare(e)   # same electorates: one set of pmfs
        runs.append(run_battery(e, seed=seed + i, draws=draws, **kw))
    out = _rates(runs, alpha)
    out["seconds"] = time.perf_counter() - t0
    out["kind"] = "clean Klimek-fair elections (simulate_fair)"
    return out


def power(registered, f_i: float, f_e: float, runs: int = 50, seed: int = 0, alpha: float = 0.05,
          draws: int = 1000, klimek_boot: int = 100, round_fraction: float = 0.0, **battery_kw) -> dict:
    """Rejection rate of each test (Holm-adjusted for family tests) under injected Klimek
    fraud, and coverage of the Klimek fit's intervals. With ``round_fraction`` > 0 the
    injected fraud is written-in round percentages instead (:func:`inject_round_numbers`)
    and no Klimek fit is made."""
    kw = {**FAST, **battery_kw}
    rej: dict[str, int] = {}
    cover_i = cover_e = cover_both = 0
    fits = []
    for r in range(runs):
        clean = simulate_fair(registered, seed=seed + 15485863 * r + 1)
        if round_fraction:
            dirty, _ = inject_round_numbers(clean, round_fraction, seed=seed + r + 7)
        else:
            dirty, _ = inject_klimek(clean, f_i, f_e, seed=seed + r + 7)
        if kw.get("cache") is None:
            kw["cache"] = NullCache().prepare(clean)
        b = run_battery(dirty, seed=seed + r, draws=draws, **kw)
        for t in b.national():
            p = t.p_adjusted if in_family(t) else t.p_value
            rej[t.name] = rej.get(t.name, 0) + int(p is not None and p < alpha)
        if round_fraction:
            continue
        fit = fit_klimek(dirty, boot=klimek_boot, seed=seed + r)
        ci = fit.ci_f_i[0] <= f_i <= fit.ci_f_i[1]
        ce = fit.ci_f_e[0] <= f_e <= fit.ci_f_e[1]
        cover_i += ci
        cover_e += ce
        cover_both += ci and ce
        fits.append((fit.f_i, fit.f_e, fit.ci_f_i, fit.ci_f_e))
    runs_fit = max(len(fits), 1)
    out = {"f_i": f_i, "f_e": f_e, "round_fraction": round_fraction, "runs": runs, "alpha": alpha,
           "rejection_rate": {k: {"rate": v / runs, "lo": wilson(v, runs)[0], "hi": wilson(v, runs)[1]}
                              for k, v in rej.items()},
           "klimek_coverage": {"f_i": cover_i / runs_fit, "f_e": cover_e / runs_fit, "both": cover_both / runs_fit,
                               "both_wilson": wilson(cover_both, len(fits))},
           "klimek_fits": fits}
    return out
