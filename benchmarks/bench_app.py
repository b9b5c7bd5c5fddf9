"""Application-layer benchmarks (prints figures; never a timed test).

What the server's results API and every `results` call pay once the files are read:
``escrutinio.app.results(...).to_dict()`` on Bolivia's 2019 final count (34,555 tables),
national, by department, with an accent-insensitive filter, and without the per-acta
checks. Median of 15 runs after one warm-up.

    python benchmarks/bench_app.py
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from escrutinio import app

FINAL_2019 = Path(__file__).resolve().parents[1] / "examples" / "bolivia" / "2019" / "computo_2019-10-25.csv.gz"

CASES = {
    "national (with checks)": {},
    "by department": {"level": "department"},
    "filter department=potosi, by municipality": {"filters": {"department": "potosi"}, "level": "municipality"},
    "national, checks=False": {"checks": False},
}


def main() -> None:
    t = time.perf_counter()
    election = app.read(FINAL_2019)
    print(f"read {FINAL_2019.name}: {1000 * (time.perf_counter() - t):.0f} ms ({election.snapshots[0].n_units:,} tables)")
    for name, options in CASES.items():
        app.results(election, **options).to_dict()
        runs = []
        for _ in range(15):
            t = time.perf_counter()
            app.results(election, **options).to_dict()
            runs.append(time.perf_counter() - t)
        print(f"app.results {name:<45} median {1000 * statistics.median(runs):6.1f} ms")


if __name__ == "__main__":
    main()
