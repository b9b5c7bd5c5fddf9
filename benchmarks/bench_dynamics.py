"""Benchmarks for count dynamics (printed figures, no assertions).

    python benchmarks/bench_dynamics.py [--quick]

1. Projection, 10,000 simulations, Bolivia 2019 (34,555 tables) from the 19:40:57 TREP,
   and from a 50% random partial count (more uncounted tables).
2. Timeline and diffs over 100 cumulative snapshots of 35,000 tables.
3. Calibration on simulated elections (more elections than the test) and the 2019
   backtest in both real arrival orders.
4. Issue 15 (``--urban-first`` runs only this part): the five Bolivia 2020 exports with
   and without the 2019 election (MAS share, interval, P(winner)); the backtest in the
   real order of the exports; coverage, reliability and Brier score on simulated
   urban-first elections, multilevel model against the geographic hot deck.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from escrutinio.dynamics.backtest import backtest, calibration
from escrutinio.dynamics.diff import diff
from escrutinio.dynamics.projection import project, project_snapshot
from escrutinio.dynamics.sources import read_roll, read_snapshot
from escrutinio.dynamics.timeline import timeline

DATA = Path(__file__).resolve().parents[1] / "examples" / "bolivia"
QUICK = "--quick" in sys.argv
URBAN_FIRST_ONLY = "--urban-first" in sys.argv


def clock(label, fn):
    t = time.perf_counter()
    out = fn()
    print(f"{label}: {time.perf_counter() - t:.2f} s")
    return out


def urban_first() -> None:
    from escrutinio.app.projection import default_strata, project as app_project, roll_levels
    from escrutinio.dynamics.backtest import backtest_snapshots
    from escrutinio.dynamics.projection import previous_place_rates
    from escrutinio.dynamics.sources import read_places
    from escrutinio.dynamics.urban_first import urban_first_study

    roll = read_roll(DATA / "2020" / "roll_2020.csv.gz")
    places = read_places(DATA / "2020" / "polling_places_2020.csv.gz")
    ps = read_snapshot(DATA / "2019" / "mesas_2019_linked.csv.gz")
    prev = previous_place_rates(ps.frame, ps.choices)
    exports = sorted((DATA / "2020").glob("computo_2020*"))
    snaps = [read_snapshot(p) for p in exports]
    print("4a. Bolivia 2020, five exports, roll + polling places, 2,000 simulations, seed 0 (final MAS 55.10)")
    print(f"    {'export':<16} {'tables':>6} {'previous':>8} {'MAS [95%]':>24} {'+-':>5} {'covers':>6} "
          f"{'P(MAS wins)':>11} {'P(wrong winner)':>15} {'extrapolated':>12}")
    for path, snap in zip(exports, snaps):
        for label, pv in (("no", None), ("2019", prev)):
            t = time.perf_counter()
            r = app_project(snap, roll, pv, 0, places=places, simulations=2000).result
            sh = r.shares["MAS_IPSP"]
            p_mas = r.outcome_probabilities.get("winner:MAS_IPSP", 1 - max(
                [v for k, v in r.outcome_probabilities.items() if k.startswith("winner:")] or [0]))
            wrong = max([v for k, v in r.outcome_probabilities.items()
                         if k.startswith("winner:") and k != "winner:MAS_IPSP"] or [0.0])
            print(f"    {path.name[8:21]:<16} {r.counted_units:>6,} {label:>8} {sh['point']:>7.2f} [{sh['lo']:>6.2f}, "
                  f"{sh['hi']:>6.2f}] {(sh['hi'] - sh['lo']) / 2:>5.2f} {'yes' if sh['lo'] <= 55.10 <= sh['hi'] else 'NO':>6} "
                  f"{p_mas:>11.3f} {wrong:>15.3f} {100 * r.extrapolation['share_few']:>11.0f}%  "
                  f"({time.perf_counter() - t:.1f} s)")
            if r.counted_units >= 5000:
                # What would +-3 cost? The selection term adds in quadrature to the rest, so
                # the run without it gives the scale of the order's selection that +-3 allows
                hw = (sh["hi"] - sh["lo"]) / 2
                prior = r.multilevel["selection"]["r_scale"]
                s0 = app_project(snap, roll, pv, 0, places=places, simulations=2000, selection_r=0.0).result.shares["MAS_IPSP"]
                base = (s0["hi"] - s0["lo"]) / 2
                per_r = np.sqrt(max(hw**2 - base**2, 1e-12)) / prior
                allowed = np.sqrt(max(9 - base**2, 0.0)) / per_r
                print(f"    {'':<16} {'':>6} {label:>8} without the selection term +-{base:.2f}; "
                      f"+-3 allows a selection scale r <= {allowed:.3f} (prior {prior:g})")
    rl, levels = roll_levels(roll, places)
    for label, pv in (("without", None), ("with", prev)):
        for st in (default_strata(rl, levels), []):
            b = backtest_snapshots(snaps, rl, levels, choice="MAS_IPSP", strata=st, previous=pv, simulations=1000,
                                   covariates=["density", "voters_5km"] if st else ())
            print(f"4b. backtest in the real order of the exports, {label} 2019, "
                  f"{'multilevel ' + ','.join(st) if st else 'hot deck'}")
            print("    " + "\n    ".join(b.summary().splitlines()[:-1]))
    # 4d first: the prior scale of the selection term is measured on real count orders
    from escrutinio.dynamics.multilevel import SELECTION_R
    from escrutinio.dynamics.order_selection import order_selection

    linked = ps.frame.join(places.select("place_id", "area").unique("place_id"), on="place_id", how="left")
    linked = linked.with_columns(pl.col("area").fill_null("unknown"))
    rs = []
    for order in ("trep_arrival_pct", "computo_arrival_pct"):
        o = order_selection(linked.filter(pl.col(order).is_not_null()), order, "MAS - IPSP", ["area", "department"],
                            place="place_id")
        print("4d. " + "\n    ".join(o.summary().splitlines()))
        rs += [x["r_place"] for x in o.rows]
    print(f"    both orders: root mean square of r_place {np.sqrt(np.mean(np.square(rs))):.3f} "
          f"(the model's prior scale SELECTION_R = {SELECTION_R})")
    # The prior for a model with the polling places' coordinates: the same measurement net
    # of the place covariates that model uses (log place size, log density, log voters
    # within a radius), for each radius, on MAS and CC; the model uses 5 km
    from escrutinio.dynamics.geography import RADII_KM, with_voters_within
    from escrutinio.dynamics.multilevel import SELECTION_R_GIVEN_REMOTENESS

    # the 2019 places' own coordinates and voters
    near = with_voters_within(linked, "place_id", radii_km=RADII_KM)
    cov = near.join(places.select("place_id", "density").unique("place_id"), on="place_id", how="left")
    # as the model does: log size, log density and log voters within, a place without one at the mean
    cov = cov.with_columns(pl.col("registered").sum().over("place_id").cast(pl.Float64).clip(1.0).log().alias("_size"),
                           pl.col("density").cast(pl.Float64).clip(1e-3).log().alias("_den"),
                           *[pl.col(f"voters_{km:g}km").clip(1.0).log().alias(f"_near{km:g}") for km in RADII_KM])
    cov = cov.with_columns([pl.col(c).fill_null(pl.col(c).mean()) for c in ("_den", *[f"_near{km:g}" for km in RADII_KM])])
    for label, given in [("log size, log density", ["_size", "_den"])] + [
            (f"+ log voters within {km:g} km", ["_size", "_den", f"_near{km:g}"]) for km in RADII_KM]:
        per = []
        for party in ("MAS - IPSP", "CC"):
            for order in ("trep_arrival_pct", "computo_arrival_pct"):
                o = order_selection(cov.filter(pl.col(order).is_not_null()), order, party, ["area", "department"],
                                    place="place_id", given=given)
                per.append(o.rms("r_place"))
        print(f"    net of {label:<31} r_place rms MAS trep {per[0]:.3f} computo {per[1]:.3f}, CC trep {per[2]:.3f} "
              f"computo {per[3]:.3f}; all four {np.sqrt(np.mean(np.square(per))):.3f}")
    print(f"    (the prior of a model with voters within 5 km: SELECTION_R_GIVEN_REMOTENESS = {SELECTION_R_GIVEN_REMOTENESS})")
    # the 2020 order against the 2019 result of the same places (a placebo outcome), for
    # comparison only: the priors are not set from it. Alone, and net of the model's place
    # covariates without and with the voters within 5 km: an order of another election
    # than the one the priors were measured on
    rl2020 = rl.join(prev.select("place_id", pl.col("prev:MASIPSP").alias("_prev_mas"), pl.col("prev:CC").alias("_prev_cc")),
                     on="place_id", how="inner")
    rl2020 = rl2020.with_columns(pl.col("registered").sum().over("place_id").cast(pl.Float64).log().alias("_size"),
                                 pl.col("density").cast(pl.Float64).clip(1e-3).log().alias("_den"),
                                 pl.col("voters_5km").log().alias("_near5"))
    rl2020 = rl2020.with_columns([pl.col(c).fill_null(pl.col(c).mean()) for c in ("_den", "_near5")])
    print("    the 2020 order against the 2019 result of the same places, r_place alone / net of log size and log "
          "density / net of those and log voters within 5 km:")
    for path, snap in zip(exports, snaps):
        counted = snap.counted()["unit_id"].implode()
        x = rl2020.with_columns(pl.when(pl.col("unit_id").is_in(counted)).then(0).otherwise(1).alias("_order"))
        f_ = float((x["_order"] == 0).mean())
        parts = []
        for party, col in (("MAS", "_prev_mas"), ("CC", "_prev_cc")):
            y = x.with_columns((pl.col(col) * pl.col("registered")).alias("_prev_votes"))
            rp = [order_selection(y, "_order", "_prev_votes", ["area", "department"], cuts=(100 * f_,),
                                  place="place_id", given=g).rows[0]["r_place"]
                  for g in (None, ["_size", "_den"], ["_size", "_den", "_near5"])]
            parts.append(f"{party} {' / '.join(f'{v:+.3f}' for v in rp)}")
        print(f"    2020 export {path.name[8:21]} (f = {f_:.3f}): " + "; ".join(parts))
    # Does a previous election remove the order's selection? The 2019 orders against the
    # 2019 result net of the 2020 result of the same places (those counted in the last
    # export), beside the 2019 result alone on the same places: the swing model faces the
    # first, the model without a previous election the second
    last = snaps[-1].counted().group_by("place_id").agg(
        *[(pl.col(c).sum() / pl.col("registered").sum()).alias(f"_2020_{c}") for c in ("MAS_IPSP", "CC")])
    both = linked.join(last, on="place_id", how="inner")
    print(f"    the 2019 orders on the {both['place_id'].n_unique():,} places counted in the last 2020 export "
          f"({both.height:,} tables of 2019), r_place by cut, alone and net of the 2020 result:")
    for party, now in (("MAS - IPSP", "_2020_MAS_IPSP"), ("CC", "_2020_CC")):
        for order in ("trep_arrival_pct", "computo_arrival_pct"):
            x = both.filter(pl.col(order).is_not_null())
            o1 = order_selection(x, order, party, ["area", "department"], place="place_id")
            o2 = order_selection(x, order, party, ["area", "department"], place="place_id", given=now)
            cuts1, cuts2 = (" ".join(f"{r['r_place']:+.3f}" for r in o.rows) for o in (o1, o2))
            print(f"    {party:<10} {order:<19} alone {cuts1} (rms {o1.rms('r_place'):.3f}); "
                  f"net {cuts2} (rms {o2.rms('r_place'):.3f})")
    # 4e. A whole count in its real order, with the multilevel model: 2019 (area types from
    # the 2020 polling places by place id), both arrival orders, to 97% counted. The exports
    # of 2020 stop at 22%; this is what later exports of a count look like
    yr = linked.with_columns(pl.col("area").replace("unknown", "desconocido"))
    lv = ["department", "municipality", "polling_place"]
    ch = list(ps.choices)
    tot = yr.select([pl.col(c).sum() for c in ch]).to_numpy().ravel()
    truth = 100 * tot[ch.index("MAS - IPSP")] / tot.sum()
    yr = yr.join(near.select("unit", "voters_5km"), on="unit", how="left").join(
        places.select("place_id", "density").unique("place_id"), on="place_id", how="left")
    roll19 = yr.select("unit", *lv, "area", "registered", "density", "voters_5km")
    print(f"4e. Bolivia 2019 in its real orders, multilevel by area x department x municipality, 1,000 simulations "
          f"(final MAS {truth:.2f}); place covariates log size, then also log density and log voters within 5 km "
          f"(the prior of the order's selection measured on these same two orders)")
    for cov in ((), ("density", "voters_5km")):
        for order in ("trep_arrival_pct", "computo_arrival_pct"):
            g = yr.filter(pl.col(order).is_not_null()).sort(order)
            for cut in (10, 25, 50, 75, 90, 97):
                part = g.head(int(g.height * cut / 100))
                sh = project(part, roll19, ch, levels=lv, strata=["area", "department", "municipality"],
                             model="multilevel", simulations=1000, seed=0, covariates=cov).shares["MAS - IPSP"]
                print(f"    {'+ ' + ', '.join(cov) if cov else 'size only':<24} {order:<19} {cut:>3}% of its tables  "
                      f"MAS {sh['point']:.2f} [{sh['lo']:.2f}, {sh['hi']:.2f}] +-{(sh['hi'] - sh['lo']) / 2:.2f}  "
                      f"{'covers' if sh['lo'] <= truth <= sh['hi'] else 'MISSES'}")
    n = 30 if QUICK else 100
    for model, sr, rem, pv in (("multilevel", None, False, False), ("multilevel", 0.0, False, False),
                               ("multilevel", None, True, False), ("multilevel", 0.0, True, False),
                               ("multilevel", None, False, True), ("multilevel", None, True, True),
                               ("multilevel", 0.0, True, True), ("hotdeck", None, False, False)):
        st = clock(f"4c. urban-first calibration, {n} simulated elections, model {model}"
                   + (", voters within 5 km" if rem else "") + (", previous election" if pv else "")
                   + (f", selection r {sr:g}" if sr is not None else ""),
                   lambda: urban_first_study(n, cuts=(10, 25, 50, 75), model=model, simulations=300, seed=15,
                                             selection_r=sr, remoteness=rem, previous=pv))
        print("    " + "\n    ".join(st.summary().splitlines()))


HONEST_ONLY = "--honest" in sys.argv
STUDY_ONLY = "--study" in sys.argv


def honest() -> None:
    """Issue 25 (``--honest``): the default path, with and without a polling-place file
    and the 2019 election, on the five 2020 exports; seed stability of the bounds; the
    selection prior of the roll-only strata measured on 2019."""
    from escrutinio.app.projection import project as app_project
    from escrutinio.dynamics.order_selection import order_selection
    from escrutinio.dynamics.projection import previous_place_rates
    from escrutinio.dynamics.representativeness import SETTLEMENT_BREAKS
    from escrutinio.dynamics.sources import read_places

    roll = read_roll(DATA / "2020" / "roll_2020.csv.gz")
    places = read_places(DATA / "2020" / "polling_places_2020.csv.gz")
    ps = read_snapshot(DATA / "2019" / "mesas_2019_linked.csv.gz")
    prev = previous_place_rates(ps.frame, ps.choices)
    exports = sorted((DATA / "2020").glob("computo_2020*"))
    snaps = [read_snapshot(p) for p in exports]
    if "--seeds-only" in sys.argv:  # H3 alone
        seeds(snaps, exports, roll, places, prev)
        return
    # H1. the prior of the order's selection within settlement size x department, net of
    # log place size (the roll-only model's covariate), on the 2019 orders
    f = ps.frame.with_columns(pl.concat_str([pl.col(c).fill_null("") for c in ("country", "department", "province",
                                             "municipality", "locality")], separator="|").alias("_loc"))
    lr = pl.col("registered").sum().over("_loc")
    cls = pl.lit("d")
    for brk, lab in reversed(list(zip(SETTLEMENT_BREAKS, "abc"))):
        cls = pl.when(lr < brk).then(pl.lit(lab)).otherwise(cls)
    f = f.with_columns(cls.alias("settlement"),
                       pl.col("registered").sum().over("place_id").cast(pl.Float64).clip(1.0).log().alias("_size"))
    per = []
    for party in ("MAS - IPSP", "CC"):
        for order in ("trep_arrival_pct", "computo_arrival_pct"):
            o = order_selection(f.filter(pl.col(order).is_not_null()), order, party, ["settlement", "department"],
                                place="place_id", given=["_size"])
            per.append(o.rms("r_place"))
    print(f"H1. 2019 orders within settlement size x department, net of log place size: r_place rms MAS trep "
          f"{per[0]:.3f} computo {per[1]:.3f}, CC trep {per[2]:.3f} computo {per[3]:.3f}; all four "
          f"{np.sqrt(np.mean(np.square(per))):.3f} (SELECTION_R_SETTLEMENT)")
    print("H2. Bolivia 2020, five exports, the default path (simulations chosen from a pilot of 2,000, "
          "projection.auto), seed 0 (final MAS 55.10)")
    covered = wrong_hi = 0
    for path, snap in zip(exports, snaps):
        for pl_label, pf in (("roll", None), ("+places", places)):
            for label, pv in (("no", None), ("2019", prev)):
                t, c0 = time.perf_counter(), time.process_time()
                r = app_project(snap, roll, pv, 0, places=pf).result
                sh = r.shares["MAS_IPSP"]
                auto = r.monte_carlo["auto"]
                probs = r.outcome_probabilities
                p_mas = probs.get("winner:MAS_IPSP", 1 - max([v for k, v in probs.items() if k.startswith("winner:")]
                                                             or [0]))
                wrong = max([v for k, v in probs.items() if k.startswith("winner:") and k != "winner:MAS_IPSP"]
                            or [0.0])
                cov = sh["lo"] <= 55.10 <= sh["hi"]
                covered += cov
                wrong_hi += wrong >= 0.9
                model = "multilevel " + ",".join(r.multilevel["strata"]) if r.multilevel else "hot deck"
                within = (r.representativeness or {}).get("within_strata") or {}
                print(f"    {path.name[8:21]:<14} {r.counted_units:>6,} {pl_label:>7} {label:>4} {sh['point']:>6.2f} "
                      f"[{sh['lo']:>6.2f}, {sh['hi']:>6.2f}] +-{(sh['hi'] - sh['lo']) / 2:>5.2f} "
                      f"{'covers' if cov else 'MISSES'} P(MAS) {p_mas:.3f} P(wrong) {wrong:.3f} "
                      f"mc se {r.monte_carlo['max_bound_se']:.3f} at {r.simulations:,} simulations"
                      f"{' (CAP; needs ' + format(auto['needed'], ',') + ')' if auto['capped'] else ''}, pilot "
                      f"{auto['pilot_max_bound_se']:.3f}  {model}"
                      + (f" (within strata {within['smd']:+.2f}, implied r {within.get('implied_r', float('nan')):.3f}, "
                         f"selection scale {r.multilevel['selection']['r_scale']:.3f})"
                         if within and r.multilevel and r.multilevel.get("selection") else "")
                      + f"  ({time.perf_counter() - t:.1f} s wall, {time.process_time() - c0:.1f} s CPU)", flush=True)
    print(f"    {covered} of 20 intervals cover 55.10; wrong winner with P >= 0.9: {wrong_hi}")
    if "--no-seeds" in sys.argv:
        return
    seeds(snaps, exports, roll, places, prev)


def seeds(snaps, exports, roll, places, prev) -> None:
    """H3. seed stability: every reported bound (shares and lead) over seeds 0-9 on the
    default path (simulations chosen from a pilot, projection.auto; ``--honest
    --seeds-only`` runs only this). ``--compare`` adds the fixed 2,000 simulations with the
    bounds from the draws' order statistics ("raw") and from their conditional normal parts
    ("conditional", result._conditional), alternating in this process; ``--long`` adds
    20,000 simulations to those."""
    from escrutinio.app.projection import project as app_project
    from escrutinio.dynamics.projection import stratified

    print("H3. seed stability, seeds 0-9: largest move of any bound (shares and lead)")
    runs = [(4, "roll", None, "no", None, None), (4, "+places", places, "2019", prev, None)]
    if "--compare" in sys.argv:
        runs += [(4, "roll", None, "no", None, 2000), (4, "+places", places, "2019", prev, 2000)]
        if "--long" in sys.argv:  # the cost of more simulations: 10 x 20,000
            runs.append((4, "+places", places, "2019", prev, 20_000))
    for i, pl_label, pf, label, pv, sims in runs:
        conds = (True,) if sims is None else (False, True)
        out = {c: [] for c in conds}
        clock = {c: [0.0, 0.0] for c in conds}
        for s in range(10):  # seed by seed, the two estimators in turn: the same load for both
            for cond in conds:
                stratified.CONDITIONAL_BOUNDS = cond
                t, c0 = time.perf_counter(), time.process_time()
                out[cond].append(app_project(snaps[i], roll, pv, s, places=pf, simulations=sims).result)
                clock[cond][0] += (time.perf_counter() - t) / 10
                clock[cond][1] += (time.process_time() - c0) / 10
        for cond in conds:
            rs = out[cond]
            b = np.array([[r.shares[c][k] for c in r.choices for k in ("lo", "hi")]
                          + [r.lead["lo"], r.lead["hi"]] for r in rs])
            names = [f"{c} {k}" for c in rs[0].choices for k in ("lo", "hi")] + ["lead lo", "lead hi"]
            mas = np.array([[r.shares["MAS_IPSP"]["lo"], r.shares["MAS_IPSP"]["hi"]] for r in rs])
            se = max(r.monte_carlo["max_bound_se"] for r in rs)
            used = [r.simulations for r in rs]
            autos = [r.monte_carlo.get("auto") for r in rs]
            pse = [a["pilot_max_bound_se"] for a in autos if a]
            how = (f"{min(used):,}-{max(used):,} simulations chosen (pilot se {min(pse):.3f}-{max(pse):.3f}; "
                   f"capped in {sum(a['capped'] for a in autos)} of 10), pilot included"
                   if sims is None else f"{sims:,} simulations")
            print(f"    {exports[i].name[8:21]:<14} {pl_label:>7} {label:>4} {'conditional' if cond else 'raw':>11} "
                  f"any bound {np.ptp(b, axis=0).max():.3f} ({names[int(np.ptp(b, axis=0).argmax())]}), MAS bounds "
                  f"{np.ptp(mas, axis=0).max():.3f} (mean [{mas[:, 0].mean():.2f}, {mas[:, 1].mean():.2f}]); "
                  f"largest sd over seeds {b.std(axis=0, ddof=1).max():.3f}, stated {se:.3f}; bounds over 0.05: "
                  f"{int((np.ptp(b, axis=0) > 0.05).sum())} of {b.shape[1]}; "
                  f"{how} ({clock[cond][0]:.1f} s wall, {clock[cond][1]:.1f} s CPU per projection)", flush=True)
    stratified.CONDITIONAL_BOUNDS = True


def study() -> None:
    """Issue 25 (``--study``): the urban-first simulation study with and without a
    previous election, at 10, 25, 50 and 75% counted."""
    from escrutinio.dynamics.urban_first import urban_first_study

    n = 30 if QUICK else 100
    rows = ((True, False, False), (True, True, False), (False, False, True), (False, False, False),
            (False, True, False))
    # ``--rows=0,1``: only those (the first two are the model with the voters within 5 km,
    # without and with a previous election: the table in docs/dynamics.md)
    pick = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--rows=")), None)
    if pick is not None:
        rows = tuple(rows[int(i)] for i in pick.split(","))
    for rem, pv, ro in rows:
        st = clock(f"S. urban-first calibration, {n} simulated elections, multilevel"
                   + (", roll only" if ro else "") + (", voters within 5 km" if rem else "")
                   + (", previous election" if pv else ""),
                   lambda: urban_first_study(n, cuts=(10, 25, 50, 75), model="multilevel", simulations=300,
                                             seed=15, remoteness=rem, previous=pv, roll_only=ro))
        print("    " + "\n    ".join(st.summary().splitlines()))


DIAGNOSE_ONLY = "--diagnose" in sys.argv


def diagnose() -> None:
    """Issue 25 (``--diagnose``): where the intervals with a previous election are too
    wide. Each simulated urban-first election is projected from its first 10, 25, 50 and
    75% with the previous election and the voters within 5 km (as ``--study``), and the
    truth's z-score against the draws (truth minus mean, over their sd) is kept: a
    calibrated model has z of sd 1. Variants switch one part of the draws off through the
    modules' own names (a diagnostic, not an option of the model): the crossed level's
    normal draws (its posterior at the mean), and the area and department variances fixed
    at their estimates instead of drawn from the scaled inverse chi-square."""
    from escrutinio.dynamics import urban_first as uf
    from escrutinio.dynamics.multilevel import crossed, draws
    from escrutinio.dynamics.projection import canonical

    n = 10 if QUICK else 30
    cuts = (10, 25, 50, 75)

    class _FixedVariance:  # a generator whose chi-square draws sit at their df: t = its estimate
        def __init__(self, rng):
            self.rng = rng

        def chisquare(self, df, size=None):
            return np.full(size, float(df))

        def __getattr__(self, k):
            return getattr(self.rng, k)

    base_normal, base_draw = crossed._corr_normal, draws._crossed_draw
    variants = (("everything", None),
                ("crossed posterior at its mean", lambda: setattr(crossed, "_corr_normal",
                                                                  lambda rng, shape, corr: np.zeros(shape))),
                ("area and department variances fixed", lambda: setattr(
                    draws, "_crossed_draw", lambda cr, S, rng: base_draw(cr, S, _FixedVariance(rng)))))
    # ``--variants=0,2``: only those, by position (each is a run of all the elections)
    pick = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--variants=")), None)
    if pick is not None:
        variants = tuple(variants[int(i)] for i in pick.split(","))
    for label, patch in variants:
        crossed._corr_normal, draws._crossed_draw = base_normal, base_draw
        if patch:
            patch()
        t0, c0 = time.perf_counter(), time.process_time()
        z = {c: [] for c in cuts}
        for e in range(n):
            f = uf.with_remoteness(uf.simulated_urban_first(15 * 100003 + e).sort("arrival"))
            f = f.with_columns(pl.col("polling_place").alias("place_id"))
            prev = f.group_by("place_id").agg(*[pl.col(f"prev_{c}").first().alias(f"prev:{canonical(c)}")
                                               for c in [*uf.UF_CHOICES, "blank", "null"]])
            roll = f.select("unit", *uf.UF_LEVELS, "place_id", "area", "registered", uf.REMOTENESS_COVARIATE)
            tot = f.select([pl.col(c).sum() for c in uf.UF_CHOICES]).to_numpy().ravel()
            truth = 100 * tot[0] / tot.sum()
            for c in cuts:
                part = f.head(int(round(f.height * c / 100)))
                r = project(part, roll, list(uf.UF_CHOICES), levels=uf.UF_LEVELS, simulations=300, seed=e,
                            previous=prev, strata=list(uf.UF_STRATA), model="multilevel",
                            covariates=[uf.REMOTENESS_COVARIATE])
                fin = r.draws + part.select([pl.col(x).sum() for x in r.channels]).to_numpy().ravel()[None, :]
                sa = 100 * fin[:, 0] / fin[:, :3].sum(axis=1)
                lo, hi = np.quantile(sa, [0.025, 0.975])
                z[c].append(((truth - sa.mean()) / sa.std(), lo <= truth <= hi, sa.std()))
        print(f"D. previous election, {n} elections, 300 simulations: {label} "
              f"({time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU)")
        for c in cuts:
            a = np.array(z[c], dtype=float)
            print(f"    {c:>3}% counted: rms z {np.sqrt(np.mean(a[:, 0] ** 2)):.2f}, 95% covered "
                  f"{100 * a[:, 1].mean():.0f}%, mean sd of A's share {a[:, 2].mean():.2f}")
    crossed._corr_normal, draws._crossed_draw = base_normal, base_draw


def main() -> None:
    if DIAGNOSE_ONLY:
        diagnose()
        return
    if HONEST_ONLY:
        honest()
        return
    if STUDY_ONLY:
        study()
        return
    if URBAN_FIRST_ONLY:
        urban_first()
        return
    trep = read_snapshot(DATA / "2019" / "trep_2019-10-20T19-40-57.csv.gz")
    roll = read_roll(DATA / "2019" / "computo_2019-10-25.csv.gz")
    final = read_snapshot(DATA / "2019" / "computo_2019-10-25.csv.gz")
    print(f"tables in the roll: {roll.height:,}")

    project_snapshot(trep, roll, simulations=200, seed=0)  # warm-up (imports, caches)
    r = clock("1a. projection, 10,000 simulations, 2019 from TREP 19:40:57 (5,580 uncounted)",
              lambda: project_snapshot(trep, roll, simulations=10_000, seed=1))
    print(f"    lead {r.lead['point']:.2f} [{r.lead['lo']:.2f}, {r.lead['hi']:.2f}], "
          f"P(lead>=10) {r.outcome_probabilities['lead_ge_10_points']:.3f}")
    rng = np.random.default_rng(0)
    half = final.counted().filter(pl.Series(rng.random(final.n_units) < 0.5))
    r = clock(f"1b. projection, 10,000 simulations, 2019 from a random 50% ({final.n_units - half.height:,} uncounted)",
              lambda: project(half, roll, final.counted_choices, levels=final.levels, simulations=10_000, seed=1))
    print(f"    lead {r.lead['point']:.2f} [{r.lead['lo']:.2f}, {r.lead['hi']:.2f}]")

    # 100 cumulative snapshots of 35,000 tables (the 2019 final count padded to 35,000,
    # released in a random order), with a few published numbers changed along the way
    base = final.frame
    extra = base.sample(35_000 - base.height, seed=1).with_columns((pl.col("unit") + "x").alias("unit"))
    frame = pl.concat([base, extra]).sample(fraction=1.0, shuffle=True, seed=2)
    cuts = np.linspace(350, frame.height, 100).astype(int)
    t0 = datetime(2019, 10, 20, 19, 0)
    snaps = []
    for i, n in enumerate(cuts):
        f = frame.head(int(n))
        if i % 10 == 5:  # a correction: one table's CC count changes
            f = f.with_columns(pl.when(pl.col("unit") == f["unit"][0]).then(pl.col("CC") + 1).otherwise(pl.col("CC")).alias("CC"))
        snaps.append(replace(final, frame=f, exported_at=t0 + timedelta(minutes=5 * i), label=f"snap{i:03d}"))
    t = clock("2a. timeline over 100 snapshots of up to 35,000 tables", lambda: timeline(snaps, expected_units=35_000))
    print(f"    first-seen table rows: {t.first_seen.height:,}; last lead {t.rows[-1]['lead']:.2f}")
    ds = clock("2b. 99 consecutive diffs", lambda: [diff(a, b) for a, b in zip(snaps, snaps[1:])])
    print(f"    changed tables found: {sum(d.changed for d in ds)}; added {sum(d.added for d in ds):,}")

    n_el = 60 if QUICK else 300
    c = clock(f"3a. calibration, {n_el} simulated elections", lambda: calibration(n_el, seed=11, cut=60, level=0.9,
                                                                                 simulations=300, arrival_effect=0.5))
    print("    " + c.summary().splitlines()[0])
    n_slow = 30 if QUICK else 80
    for adj in (False, True):
        c = clock(f"3c. calibration, {n_slow} simulated elections with slow places that differ (128 municipalities), "
                  f"slow-place adjustment {'on' if adj else 'off'}",
                  lambda: calibration(n_slow, seed=11, cut=60, level=0.9, simulations=300, arrival_effect=0.5,
                                      place_effect=1.0, municipalities=32, completion_adjustment=adj))
        print("    " + c.summary().splitlines()[0])
    linked = read_snapshot(DATA / "2019" / "mesas_2019_linked.csv.gz")
    for order in ("trep_arrival_pct", "computo_arrival_pct"):
        for cal in (False, True):
            b = clock(f"3b. backtest 2019, {order}, arrival-calibrated={cal}",
                      lambda: backtest(linked.counted(), linked.counted_choices, levels=linked.levels, order=order,
                                       simulations=200 if QUICK else 500, seed=0, level=0.9, arrival_calibrated=cal))
            print("    " + "\n    ".join(b.summary().splitlines()[1:-1]))
    urban_first()


if __name__ == "__main__":
    main()
