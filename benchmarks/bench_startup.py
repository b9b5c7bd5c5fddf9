"""Start-up and small-file benchmarks, each against its baseline in the same run (prints
figures; never a timed test). Issue 28's targets:

1. ``escrutinio --help`` <= 8x ``python -c pass`` (``python -c "import click"`` shown too:
   click alone is about 4x);
2. ``escrutinio results`` on the 2019 final count (34,555 actas: read, checks, totals,
   verdict under art. 166) <= 1.2x a plain polars script reading the same file and
   adding up the same columns.

Every figure is a whole process, wall clock, best of ``--repeat`` runs taken in
alternation (the machine is shared: the best run is the least disturbed one); the results
line also prints CPU time, which a loaded machine disturbs less.

    python benchmarks/bench_startup.py [--repeat 7]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FINAL_2019 = ROOT / "examples" / "bolivia" / "2019" / "computo_2019-10-25.csv.gz"

POLARS_SCRIPT = """
import gzip, sys
import polars as pl
with gzip.open(sys.argv[1]) as fh:
    df = pl.read_csv(fh.read())
choices = ["CC", "FPV", "MTS", "UCS", "MAS - IPSP", "21F", "PDC", "MNR", "PAN-BOL"]
cols = ["Inscritos", *choices, "Blancos", "Nulos"]
totals = df.select([pl.col(c).sum() for c in cols]).row(0, named=True)
valid = sum(totals[c] for c in choices)
shares = {c: 100 * totals[c] / valid for c in choices}
lead = sorted(shares.values())[-1] - sorted(shares.values())[-2]
print(f"valid {valid:,}, lead {lead:.2f}")
"""


def _escrutinio() -> list[str]:
    script = Path(sys.executable).with_name("escrutinio")
    return [str(script)] if script.exists() else [sys.executable, "-m", "escrutinio"]


# as on a user's machine, where pip or the first run leaves bytecode behind: without it
# every run compiles escrutinio's modules again (a development shell may set this)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(cmd: list[str]) -> tuple[float, float]:
    """Wall clock and CPU time (user + system, all threads) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, env=ENV)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_of(commands: dict[str, list[str]], repeat: int, cpu: dict[str, float] | None = None) -> dict[str, float]:
    """Best wall clock per command; ``cpu``, when given, gets the best CPU time too (on a
    loaded machine the wall clock mostly measures the wait for a core, the CPU time not)."""
    best = {k: float("inf") for k in commands}
    for name, cmd in commands.items():  # warm the caches (.pyc, page cache) once
        _run(cmd)
    for _ in range(repeat):
        for name, cmd in commands.items():
            wall, used = _run(cmd)
            best[name] = min(best[name], wall)
            if cpu is not None:
                cpu[name] = min(cpu.get(name, float("inf")), used)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    exe = _escrutinio()
    b = best_of({"pass": [sys.executable, "-c", "pass"], "click": [sys.executable, "-c", "import click"],
                 "help": [*exe, "--help"]}, args.repeat)
    print(f"[start-up] python -c pass {b['pass']:.3f} s; python -c 'import click' {b['click']:.3f} s "
          f"({b['click'] / b['pass']:.1f}x); escrutinio --help {b['help']:.3f} s = {b['help'] / b['pass']:.1f}x "
          "python -c pass (target <= 8x)")
    cpu: dict[str, float] = {}
    r = best_of({"polars script": [sys.executable, "-c", POLARS_SCRIPT, str(FINAL_2019)],
                 "escrutinio results": [*exe, "results", str(FINAL_2019)]}, args.repeat, cpu)
    print(f"[results-2019] plain polars script {r['polars script']:.3f} s; escrutinio results (checks, totals, verdict) "
          f"{r['escrutinio results']:.3f} s = {r['escrutinio results'] / r['polars script']:.2f}x (target <= 1.2x)")
    print(f"[results-2019] CPU time, user + system: polars script {cpu['polars script']:.3f} s; escrutinio results "
          f"{cpu['escrutinio results']:.3f} s = {cpu['escrutinio results'] / cpu['polars script']:.2f}x "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
