"""Simulate the null table of the dip test and write src/escrutinio/forensics/_dip_table.py.

The method is Hartigan & Hartigan's (1985) and Maechler's (R package diptest, table
``qDiptab``): the uniform is the least favourable unimodal law, so quantiles of the dip of
n uniform points, at the same sizes and probabilities as Maechler's table, give
conservative p-values for any unimodal null. We do not copy that table (the package is
GPL); we recompute it from the method with our own dip (src/escrutinio/forensics/dip.py)
and seeded uniforms, and test it against a few of its published entries
(tests/forensics/test_forensics_dip.py).

    python benchmarks/make_dip_table.py            # ~15 min on one core
    python benchmarks/make_dip_table.py --quick    # 1/20 of the replicates, for a smoke run

Replicates per size: 100,000 up to n = 100, 50,000 up to 1,000, 20,000 up to 10,000,
10,000 at 20,000 and 5,000 at 40,000 and 72,000. Quantiles are stored as sqrt(n) * dip
(nearly constant in n). Probabilities stop at 0.999: fewer replicates cannot resolve
further, and the p-value is then reported as "< 0.001".
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from escrutinio.forensics.dip import dip_statistic

SIZES = [4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 40000, 72000]
PROBS = [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999]


def replicates(n: int) -> int:
    if n <= 100:
        return 100_000
    if n <= 1000:
        return 50_000
    if n <= 10_000:
        return 20_000
    return 10_000 if n <= 20_000 else 5_000


def main(seed: int = 20261130, quick: bool = False) -> None:
    rng = np.random.default_rng(seed)
    rows, reps_used = [], []
    t_all = time.perf_counter()
    for n in SIZES:
        reps = replicates(n) // (20 if quick else 1)
        t0 = time.perf_counter()
        vals = np.array([dip_statistic(rng.random(n)) for _ in range(reps)])
        q = np.quantile(np.sqrt(n) * vals, PROBS)
        rows.append([round(float(v), 6) for v in q])
        reps_used.append(reps)
        print(f"n = {n:>6}: {reps:>7,} replicates, {time.perf_counter() - t0:6.1f} s; sqrt(n)*dip quantiles "
              f"0.5 / 0.95 / 0.99 = {q[PROBS.index(0.5)]:.4f} / {q[PROBS.index(0.95)]:.4f} / "
              f"{q[PROBS.index(0.99)]:.4f}", flush=True)
    out = Path(__file__).parents[1] / "src" / "escrutinio" / "forensics" / "_dip_table.py"
    out.write_text(
        '"""Quantiles of sqrt(n) * dip for n uniform points (the dip test\'s least favourable null),\n'
        f"simulated by benchmarks/make_dip_table.py (seed {seed}, {time.perf_counter() - t_all:.0f} s"
        f"{', quick run' if quick else ''}).\n"
        'Rows: SIZES; columns: PROBS. REPLICATES: simulated samples per size."""\n'
        f"SIZES = {SIZES!r}\nPROBS = {PROBS!r}\nREPLICATES = {reps_used!r}\n"
        "SQRT_N_QUANTILES = [\n" + "".join(f"    {r!r},\n" for r in rows) + "]\n")
    print("wrote", out)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
