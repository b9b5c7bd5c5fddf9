"""Benchmarks for count dynamics (printed figures, no assertions).

    python benchmarks/bench_dynamics.py [--quick]

1. Projection, 10,000 simulations, Bolivia 2019 (34,555 tables) from the 19:40:57 TREP,
   and from a 50% random partial count (more uncounted tables).
2. Timeline and diffs over 100 cumulative snapshots of 35,000 tables.
3. Calibration on simulated elections (more elections than the test) and the 2019
   backtest in both real arrival orders.
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


def clock(label, fn):
    t = time.perf_counter()
    out = fn()
    print(f"{label}: {time.perf_counter() - t:.2f} s")
    return out


def main() -> None:
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


if __name__ == "__main__":
    main()
