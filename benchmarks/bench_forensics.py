"""Forensics benchmarks: speed, calibration and power. Prints its figures.

    python benchmarks/bench_forensics.py speed        # battery at 100k and 1M stations, Klimek fit at 100k
    python benchmarks/bench_forensics.py calibration  # 200 clean elections of Bolivia-2019 size
    python benchmarks/bench_forensics.py power        # Klimek fraud injected at known f_i, f_e
    python benchmarks/bench_forensics.py power_round  # written-in round percentages in 2 % of tables
    python benchmarks/bench_forensics.py bolivia      # battery + placebos on the bundled Bolivia data

Electorates: the 34,555 tables of Bolivia 2019 (examples/bolivia) for calibration and power;
synthetic tables of 100-360 registered voters for the speed runs.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from escrutinio.forensics.battery import run_battery
from escrutinio.forensics.fingerprint import fit_klimek
from escrutinio.forensics.placebo import calibration, power
from escrutinio.forensics.simulate import simulate_fair

ROOT = Path(__file__).parents[1]


def bolivia_registered() -> np.ndarray:
    import polars as pl

    df = pl.read_csv(ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz", columns=["Inscritos"])
    return df.get_column("Inscritos").to_numpy().astype(np.int64)


def speed() -> None:
    print(f"cores available: {os.cpu_count()}")
    rng = np.random.default_rng(1)
    for n, limit in ((100_000, 5.0), (1_000_000, 30.0)):
        data = simulate_fair(rng.integers(100, 360, n), seed=2)
        t0 = time.perf_counter()
        r = run_battery(data, seed=3, draws=1000, klimek=False)
        dt = time.perf_counter() - t0
        print(f"battery on {n:>9,} stations (1,000 integer-percentage draws, digits, distributions, P05, "
              f"coarse spikes, outliers): {dt:6.2f} s (target < {limit:.0f} s) "
              f"[{', '.join(f'{k} {v:.2f}' for k, v in r.timings.items() if isinstance(v, float))}]")
    data = simulate_fair(rng.integers(100, 360, 100_000), seed=4)
    t0 = time.perf_counter()
    fit = fit_klimek(data, boot=100, seed=5)
    dt = time.perf_counter() - t0
    print(f"Klimek fit (grid 31x17, 49 + 24 fair-mean candidates, 100 bootstrap sets) on 100,000 stations: {dt:6.2f} s "
          f"(target < 60 s); f_i={fit.f_i:.3f} {fit.ci_f_i}, f_e={fit.f_e:.4f} {fit.ci_f_e}")


def do_calibration(n: int = 200) -> None:
    reg = bolivia_registered()
    c = calibration(reg, n_elections=n, seed=11, draws=1000)
    print(f"calibration: {c['runs']} clean elections ({c['kind']}) of {len(reg):,} tables, alpha = {c['alpha']}, "
          f"{c['seconds']:.0f} s")
    print(f"{'test':30s} {'in family':>9s} {'FPR':>6s}  Wilson 95%")
    for name, v in c["tests"].items():
        print(f"{name:30s} {str(v['in_family']):>9s} {v['rate']:6.3f}  [{v['lo']:.3f}, {v['hi']:.3f}]")
    fw = c["family_wise_holm"]
    print(f"family-wise rate after Holm: {fw['rate']:.3f} [{fw['lo']:.3f}, {fw['hi']:.3f}] ({fw['k']}/{fw['n']})")


def do_power(runs: int = 50, f_i: float = 0.2, f_e: float = 0.02) -> None:
    reg = bolivia_registered()
    t0 = time.perf_counter()
    p = power(reg, f_i, f_e, runs=runs, seed=21, draws=1000, klimek_boot=100)
    print(f"power: Klimek fraud f_i = {f_i}, f_e = {f_e} (sigma_x 0.25, sigma_e 0.075) injected into {runs} fair "
          f"elections of {len(reg):,} tables; {time.perf_counter() - t0:.0f} s")
    for name, v in p["rejection_rate"].items():
        print(f"  {name:30s} rejection rate {v['rate']:.2f} [{v['lo']:.2f}, {v['hi']:.2f}]")
    kc = p["klimek_coverage"]
    print(f"  Klimek fit: interval covers f_i in {kc['f_i']:.2f}, f_e in {kc['f_e']:.2f}, both in {kc['both']:.2f} "
          f"of runs (Wilson {kc['both_wilson'][0]:.2f}-{kc['both_wilson'][1]:.2f})")
    fi = np.array([f[0] for f in p["klimek_fits"]])
    fe = np.array([f[1] for f in p["klimek_fits"]])
    print(f"  fitted f_i mean {fi.mean():.3f} (sd {fi.std():.3f}); fitted f_e mean {fe.mean():.4f} (sd {fe.std():.4f})")


def do_power_round(runs: int = 50, fraction: float = 0.02) -> None:
    reg = bolivia_registered()
    t0 = time.perf_counter()
    p = power(reg, 0.0, 0.0, runs=runs, seed=31, draws=1000, round_fraction=fraction)
    print(f"power: written-in round percentages in {fraction:.0%} of tables (inject_round_numbers) of {runs} fair "
          f"elections of {len(reg):,} tables; {time.perf_counter() - t0:.0f} s")
    for name, v in p["rejection_rate"].items():
        print(f"  {name:30s} rejection rate {v['rate']:.2f} [{v['lo']:.2f}, {v['hi']:.2f}]")


def do_bolivia() -> None:
    from escrutinio.cli.forensics import load_data
    from escrutinio.forensics.placebo import mark_uninformative, placebo_reference, placebo_simulated

    d19 = load_data([str(ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz")], "PRESIDENTE")
    d20 = load_data([str(ROOT / "examples/bolivia/2020/computo_20201019T123834.xlsx")], "PRESIDENTE")
    for data, ref in ((d19, d20), (d20, d19)):
        t0 = time.perf_counter()
        r = run_battery(data, seed=1, by="department")
        mark_uninformative(r, placebo_reference(ref, seed=2), "reference")
        mark_uninformative(r, placebo_simulated(data, n_sims=20, seed=3), "simulated")
        print(r.summary())
        print(f"[{time.perf_counter() - t0:.1f} s]\n")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "speed"
    if what == "speed":
        speed()
    elif what == "calibration":
        do_calibration(int(sys.argv[2]) if len(sys.argv) > 2 else 200)
    elif what == "power":
        do_power(int(sys.argv[2]) if len(sys.argv) > 2 else 50)
    elif what == "power_round":
        do_power_round(int(sys.argv[2]) if len(sys.argv) > 2 else 50)
    elif what == "bolivia":
        do_bolivia()
