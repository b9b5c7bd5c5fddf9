"""Benchmark and figures for the parallel vote tabulation (docs/pvt.md). Prints; asserts nothing.

    python benchmarks/bench_pvt.py            # everything
    python benchmarks/bench_pvt.py speed      # only the 1,000,000-table timings
    python benchmarks/bench_pvt.py live       # the server's live estimate: first and repeated requests
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from escrutinio.io import read_election
from escrutinio.law.presidential import preset
from escrutinio.pvt.calibration import allocation_comparison, count_coverage
from escrutinio.pvt.design import make_design
from escrutinio.pvt.estimate import estimate

DATA = Path(__file__).parents[1] / "examples" / "bolivia" / "2019"


def best_of(label, fn, repeat=3):
    """Best wall-clock time of ``repeat`` runs, and the CPU time of that run (on a shared
    machine the CPU time is the steadier figure)."""
    runs, out = [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        runs.append((time.perf_counter() - t, time.process_time() - c))
    wall, cpu = min(runs)
    print(f"  {label}: best {wall:.3f} s wall ({cpu:.3f} s CPU) of {repeat} (all: {', '.join(f'{w:.3f}' for w, _ in runs)})")
    return out


def million(P=1_000_000, seed=0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    dept = rng.integers(0, 9, P)
    reg = rng.integers(80, 300, P)
    emitted = rng.binomial(reg, 0.85)
    invalid = rng.binomial(emitted, 0.05)
    valid = emitted - invalid
    p = np.clip(0.3 + 0.05 * dept + rng.normal(0, 0.1, P), 0.01, 0.99)
    a = rng.binomial(valid, p)
    b = rng.binomial(valid - a, 0.7)
    blank = invalid // 2
    return pl.DataFrame({"unit": [f"{100000000 + i}" for i in range(P)], "country": "Synthetic",
                         "department": [f"D{d}" for d in dept], "registered": reg, "A": a, "B": b,
                         "C": valid - a - b, "blank": blank, "null": invalid - blank, "emitted": emitted})


def speed():
    print(f"== speed: 1,000,000 tables (generated), 9 strata; load average {' '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs ==")
    f = million()
    roll = f.select("unit", "country", "department", "registered")
    rule = preset("bolivia")
    for n in (3_000, 100_000):
        d = best_of(f"design n = {n:,} (hash the frame, tickets for 1,000,000 tables, allocate, select)",
                    lambda: make_design(roll, n, 2026, ["department"], ["country", "department"]))
        best_of(f"estimate n = {n:,} from a 1,000,000-row reports frame (select the sample, ratio estimates, "
                f"covariance, 20,000 verdict draws)", lambda: estimate(d, f, ["A", "B", "C"], rule))


def bolivia():
    print("== calibration: 2019 cómputo, 500 designs (seeds 1..500), n = 1,500, strata = department, proportional ==")
    snap = read_election([str(DATA / "computo_2019-10-25.csv.gz")]).snapshots[0]
    t = time.perf_counter()
    print(count_coverage(snap, "MAS - IPSP", "CC", 1500, range(1, 501), ["department"]).summary())
    print(f"  ({time.perf_counter() - t:.1f} s for 500 designs and estimates)")


def simulated():
    print("== simulated elections with strong stratum effects (6 strata, 20,000 tables), n = 1,000, 500 designs ==")
    for sim_seed in (0, 1):
        out = allocation_comparison(sim_seed, 1000, range(1, 501))
        alloc = {k: [s["sample"] for s in d.strata.values()] for k, (d, _) in out.items()}
        print(f" simulation seed {sim_seed}; allocation proportional {alloc['proportional']}, Neyman {alloc['neyman']}")
        for label, (d, c) in out.items():
            print(f" {label}: expected margin from the previous election: A ±{d.expected_moe['A']:.3f}, "
                  f"lead ±{d.expected_moe['lead (A - B)']:.3f}")
            print("  " + c.summary().replace("\n", "\n  "))


def joint():
    print("== comparison: the 2019 cómputo against its own PVT, 200 designs (seeds 1..200), n = 1,500 ==")
    from escrutinio.pvt.compare import compare

    snap = read_election([str(DATA / "computo_2019-10-25.csv.gz")]).snapshots[0]
    f, levels, rule = snap.counted(), list(snap.levels), preset("bolivia")
    ps, flagged = [], 0
    for seed in range(1, 201):
        d = make_design(snap.frame, 1500, seed, ["department"], levels)
        c = compare(d, estimate(d, f, list(snap.counted_choices), rule, draws=0), snap, snap)
        ps.append(c.joint_test["p_value"])
        flagged += not c.consistent
    ps = np.array(ps)
    print(f"  joint test p < 0.05 in {np.mean(ps < 0.05):.1%}, p < 0.01 in {np.mean(ps < 0.01):.1%}; "
          f"some choice outside its 99% interval in {flagged / 200:.1%} (bound 1 - 0.99^9 = {1 - 0.99 ** 9:.1%})")


def worked_example():
    print("== worked example: seed 7, the 2019 roll, first 5 draws ==")
    from escrutinio.io import read_roll

    roll = read_roll(DATA / "computo_2019-10-25.csv.gz")
    levels = [c for c in roll.columns if c not in ("unit", "unit_id", "place_id", "registered")]
    d = make_design(roll, 1500, "7", ["department"], levels)
    print(f"  SHA256('7') = {d.first_draws[0]['hashed'][:64]}")
    for i, fd in enumerate(d.first_draws, 1):
        print(f"  {i}. unit {fd['unit']} ({fd['stratum']}): SHA256({fd['hashed'][:8]}...{fd['hashed'][56:]}) = "
              f"{fd['sha256']}\n     ticket {fd['ticket']}")
    print(f"  frame SHA-256 {d.frame['sha256']}; strata SHA-256 {d.frame['strata_sha256']}")


def live():
    """The server's /api/v1/pvt/estimate and /status, in process on the embedded database:
    the 2019 count loaded, a 400-table design, every sampled table entered twice. Every
    entry makes every open PVT page ask again, so the repeat (same data) is what many
    readers cost; the first request after a change is what one change costs."""
    import json
    import tempfile

    from escrutinio.server.storage.db import migrate
    from escrutinio.server.testing import ServerClient

    computo = DATA / "computo_2019-10-25.csv.gz"
    tmp = tempfile.mkdtemp()
    url = f"sqlite:///{tmp}/pvt.db"
    migrate(url)
    sc = ServerClient(url, tmp)
    sc.load(computo)
    snap = read_election([computo]).latest("PRESIDENTE")
    d = make_design(snap.frame.select("unit", "registered", "department"), 400, seed=7, strata=["department"])
    assert sc.client.post("/api/v1/pvt/design", json=json.loads(d.to_json()), headers=sc.headers("admin")).status_code == 200
    fields = [*snap.choices, "blank", "null", "registered", "emitted"]
    typists = [sc.headers("typist", "bench-a"), sc.headers("typist", "bench-b")]
    for row in snap.frame.filter(pl.col("unit").is_in(d.sample)).select("unit", *fields).iter_rows(named=True):
        values = {f: int(row[f]) for f in fields}
        for t, h in enumerate(typists):
            sc.client.post("/api/v1/entries", headers=h, json={"unit": row["unit"], "values": values,
                                                               "client_id": f"{row['unit']}-{t}"})
    print("== live estimate: 2019 loaded, 400 sampled tables with agreed copies")
    for path in ("/api/v1/pvt/estimate", "/api/v1/pvt/status"):
        times = []
        for _ in range(6):
            t = time.perf_counter()
            assert sc.client.get(path).status_code == 200
            times.append(1000 * (time.perf_counter() - t))
        print(f"  {path}: first {times[0]:.0f} ms, then {', '.join(f'{x:.0f}' for x in times[1:])} ms (same data)")
    sc.close()


if __name__ == "__main__":
    parts = sys.argv[1:] or ["speed", "bolivia", "simulated", "joint", "worked_example", "live"]
    for p in parts:
        globals()[p]()
