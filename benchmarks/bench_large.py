"""A large count with its checks, against a plain polars script doing the same (prints
figures; never a timed test). Issue 28's target: 1,000,000 tables x 12 choices, read,
checked (every per-acta rule) and added up nationally and per department, within 1.2x
of a polars script that reads the same CSV and computes the same totals and the same
checks (each rule's failing tables).

Both run in this process, after their imports, alternately, best of ``--repeat`` (the
machine may be shared: the best run is the least disturbed one). The generated file is
the one ``bench_foundation.py`` writes (benchmarks/_data, made on first use).

    python benchmarks/bench_large.py [--tables 1000000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_foundation import CHOICES, DATA, MAPPING, generate  # noqa: E402


def polars_script(path: Path) -> dict:
    """What a careful analyst would write with polars alone: read, totals, the checks."""
    import polars as pl

    df = pl.read_csv(path)
    valid = pl.sum_horizontal(CHOICES)
    cols = ["registered", *CHOICES, "blank", "null", "emitted"]
    checks = df.select(
        (valid + pl.col("blank") + pl.col("null") != pl.col("emitted")).sum().alias("valid_blank_null_sum_to_emitted"),
        (pl.col("emitted") > pl.col("registered")).sum().alias("emitted_within_registered"),
        pl.col("table").is_duplicated().sum().alias("unique_unit"),
        pl.any_horizontal([pl.col(c) < 0 for c in cols]).sum().alias("non_negative"),
    ).row(0, named=True)
    national = df.select([pl.col(c).sum() for c in cols]).row(0, named=True)
    departments = df.group_by("department").agg([pl.col(c).sum() for c in cols])
    return {"valid": sum(national[c] for c in CHOICES), "departments": departments.height,
            "failing": sum(checks.values())}


def escrutinio_run(path: Path, mapping: Path) -> dict:
    from escrutinio.checks import run_checks
    from escrutinio.io import read_snapshots
    from escrutinio.tabulate import tabulate

    (snap,) = read_snapshots(str(path), mapping=str(mapping))
    report = run_checks([snap])
    national = tabulate(snap)
    departments = tabulate(snap, level="department")
    return {"valid": national.totals["valid"], "departments": departments.rows.height,
            "failing": report.findings.height}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"generated_{args.tables}.csv"
    mapping = DATA / "generated.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    if not path.exists():
        generate(args.tables, path)
    import polars  # noqa: F401  imports are not timed, for either
    import escrutinio.checks, escrutinio.io, escrutinio.tabulate  # noqa: E401,F401

    best = {"polars": float("inf"), "escrutinio": float("inf")}
    out = {}
    for _ in range(args.repeat):
        for name, run in (("polars", lambda: polars_script(path)), ("escrutinio", lambda: escrutinio_run(path, mapping))):
            t = time.perf_counter()
            out[name] = run()
            best[name] = min(best[name], time.perf_counter() - t)
    assert out["polars"]["valid"] == out["escrutinio"]["valid"], out
    assert out["polars"]["departments"] == out["escrutinio"]["departments"], out
    print(f"[large] {args.tables:,} tables x {len(CHOICES)} choices, read + checks + national and department totals; "
          f"same valid total {out['escrutinio']['valid']:,}, {out['escrutinio']['failing']} findings")
    print(f"[large] polars script {best['polars']:.2f} s; escrutinio {best['escrutinio']:.2f} s "
          f"= {best['escrutinio'] / best['polars']:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
