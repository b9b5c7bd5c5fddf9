"""Simulate the uniform reference distribution of sqrt(n) * dip for the dip test and write
src/escrutinio/forensics/_dip_table.py. Run once: python benchmarks/make_dip_table.py"""
from pathlib import Path

import numpy as np

from escrutinio.forensics.dip import dip_statistic

SIZES = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000]


def main(seed: int = 20261129) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for n in SIZES:
        reps = 1000 if n <= 5000 else 400
        vals = np.sort([np.sqrt(n) * dip_statistic(rng.random(n)) for _ in range(reps)])
        rows.append([round(float(v), 6) for v in vals])
        print(n, reps, "quantiles 0.5/0.95/0.99 of sqrt(n)*dip:",
              np.round(np.quantile(vals, [0.5, 0.95, 0.99]), 4), flush=True)
    out = Path(__file__).parents[1] / "src" / "escrutinio" / "forensics" / "_dip_table.py"
    out.write_text(
        '"""Uniform reference of sqrt(n) * dip, simulated by benchmarks/make_dip_table.py '
        f'(seed {seed}). Sorted per size."""\n'
        f"SIZES = {SIZES!r}\nSQRT_N_DIPS = {rows!r}\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
