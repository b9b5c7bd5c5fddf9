"""Foundation benchmarks (prints figures; never a timed test).

1. Bolivia 2019 final count, disk to verdict, in-process (median of 7 runs), and the
   CLI's start-up time and end-to-end time, reported separately.
2. A generated country of 1,000,000 tables x 12 choices: CSV to national and department
   totals with escrutinio, against a plain pandas script doing the same totals, each in
   its own process so peak memory (max RSS) is measured per engine.

    python benchmarks/bench_foundation.py [--tables 1000000]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "_data"
FINAL_2019 = ROOT / "examples" / "bolivia" / "2019" / "computo_2019-10-25.csv.gz"
CHOICES = [f"P{i:02d}" for i in range(1, 13)]

MAPPING = """
[election]
name = "Generated"
contest = "President"
[columns]
unit = "table"
registered = "registered"
blank = "blank"
null = "null"
emitted = "emitted"
[levels]
department = "department"
municipality = "municipality"
[choices]
columns = [%s]
""" % ", ".join(f'"{c}"' for c in CHOICES)


def generate(n: int, path: Path) -> None:
    """A country of n tables: 32 departments, 1,000 municipalities, 12 choices."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(7)
    registered = rng.integers(100, 400, n)
    turnout = np.clip(rng.normal(0.75, 0.08, n), 0.2, 1.0)
    emitted = rng.binomial(registered, turnout)
    blank = rng.binomial(emitted, 0.02)
    null = rng.binomial(emitted - blank, 0.03)
    valid = emitted - blank - null
    weights = rng.dirichlet(np.linspace(6, 0.5, 12), n)
    # multinomial per row, vectorised through sequential binomials
    votes = np.zeros((n, 12), dtype=np.int64)
    left = valid.copy()
    rest = np.ones(n)
    for j in range(11):
        p = np.clip(weights[:, j] / np.maximum(rest, 1e-12), 0, 1)
        votes[:, j] = rng.binomial(left, p)
        left -= votes[:, j]
        rest -= weights[:, j]
    votes[:, 11] = left
    municipality = rng.integers(0, 1000, n)
    frame = pl.DataFrame({
        "table": np.arange(1, n + 1),
        "department": "Department " + pl.Series(municipality % 32).cast(pl.Utf8).str.zfill(2),
        "municipality": "Municipality " + pl.Series(municipality).cast(pl.Utf8).str.zfill(4),
        "registered": registered,
        **{c: votes[:, j] for j, c in enumerate(CHOICES)},
        "blank": blank, "null": null, "emitted": emitted,
    })
    frame.write_csv(path)


ESCRUTINIO_SCRIPT = """
import json, resource, sys, time
t0 = time.perf_counter()
from escrutinio.io import read_snapshots
from escrutinio.tabulate import tabulate
t1 = time.perf_counter()
(snap,) = read_snapshots(sys.argv[1], mapping=sys.argv[2])
t2 = time.perf_counter()
national = tabulate(snap)
departments = tabulate(snap, level="department")
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "read_s": t2 - t1, "totals_s": t3 - t2, "total_s": t3 - t1,
                  "valid": national.totals["valid"], "departments": departments.rows.height,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

PANDAS_SCRIPT = """
import json, resource, sys, time
t0 = time.perf_counter()
import pandas as pd
t1 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
choices = [c for c in df.columns if c.startswith("P")]
cols = ["registered", *choices, "blank", "null", "emitted"]
national = df[cols].sum()
valid = int(national[choices].sum())
departments = df.groupby("department")[cols].sum()
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "total_s": t2 - t1, "valid": valid, "departments": len(departments),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_script(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_bolivia() -> None:
    from escrutinio.io import read_snapshots
    from escrutinio.law.presidential import preset
    from escrutinio.tabulate import tabulate

    times = []
    for _ in range(7):
        t = time.perf_counter()
        (snap,) = read_snapshots(FINAL_2019)
        verdict = tabulate(snap, rule=preset("bolivia")).verdict
        times.append(time.perf_counter() - t)
    print(f"[bolivia-2019] disk to verdict, in-process: median {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, max {max(times):.3f}); verdict {verdict.outcome}, lead {verdict.lead_points:.2f} points (target < 0.5 s)")
    exe = [sys.executable, "-m", "escrutinio"]
    startup = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([*exe, "--version"], capture_output=True, check=True)
        startup.append(time.perf_counter() - t)
    t = time.perf_counter()
    subprocess.run([*exe, "results", str(FINAL_2019), "--format", "json"], capture_output=True, check=True)
    cli = time.perf_counter() - t
    print(f"[bolivia-2019] CLI start-up (escrutinio --version): median {statistics.median(startup):.3f} s; "
          f"CLI end-to-end `results --format json`: {cli:.3f} s")


def bench_generated(n: int) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    csv_path = DATA / f"generated_{n}.csv"
    mapping_path = DATA / "generated.toml"
    mapping_path.write_text(MAPPING, encoding="utf-8")
    if not csv_path.exists():
        t = time.perf_counter()
        generate(n, csv_path)
        print(f"[generated] wrote {n:,} tables x {len(CHOICES)} choices ({csv_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
    ours = min((run_script(ESCRUTINIO_SCRIPT, str(csv_path), str(mapping_path)) for _ in range(3)), key=lambda r: r["total_s"])
    pandas = min((run_script(PANDAS_SCRIPT, str(csv_path)) for _ in range(3)), key=lambda r: r["total_s"])
    assert ours["valid"] == pandas["valid"] and ours["departments"] == pandas["departments"], (ours, pandas)
    print(f"[generated] escrutinio: CSV to national + department totals {ours['total_s']:.2f} s "
          f"(read {ours['read_s']:.2f} s, totals {ours['totals_s']:.2f} s; imports {ours['import_s']:.2f} s not counted), "
          f"peak memory {ours['peak_mb']:.0f} MB (targets < 5 s, < 2048 MB)")
    print(f"[generated] pandas baseline: {pandas['total_s']:.2f} s, peak memory {pandas['peak_mb']:.0f} MB")
    print(f"[generated] speed-up over pandas: {pandas['total_s'] / ours['total_s']:.1f}x (target >= 5x); "
          f"same valid total {ours['valid']:,} and {ours['departments']} departments in both")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=1_000_000)
    args = parser.parse_args()
    bench_bolivia()
    bench_generated(args.tables)
