"""Forensics benchmarks: speed, calibration and power. Prints its figures.

    python benchmarks/bench_forensics.py speed        # whole CLI: 2019 cómputo, 100k and 1M stations, new vs old
    python benchmarks/bench_forensics.py speed 100000 # only the 2019 cómputo and 100k
    python benchmarks/bench_forensics.py speed 1000000 --skip-bolivia
    python benchmarks/bench_forensics.py calibration  # 200 clean elections of Bolivia-2019 size
    python benchmarks/bench_forensics.py power        # Klimek fraud injected at known f_i, f_e
    python benchmarks/bench_forensics.py power_round  # written-in round percentages in 2 % of tables
    python benchmarks/bench_forensics.py bolivia      # battery + placebos on the bundled Bolivia data
    python benchmarks/bench_forensics.py russia       # issue 29: Russia 2021 whole CLI (--by region), the numpy
                                                      # integer-percentage loop alone, Kobak's figures 2016/2021,
                                                      # Bolivia 2019 new vs before issue 29
    python benchmarks/bench_forensics.py russia --quick   # the same without the whole-CLI runs
    python benchmarks/bench_forensics.py russia --with-old  # also Russia before the pmf columns (48cba7d)

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
from escrutinio.forensics.placebo import calibration, power
from escrutinio.forensics.simulate import simulate_fair

ROOT = Path(__file__).parents[1]


def bolivia_registered() -> np.ndarray:
    import polars as pl

    df = pl.read_csv(ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz", columns=["Inscritos"])
    return df.get_column("Inscritos").to_numpy().astype(np.int64)


BASELINE_COMMIT = "84d7511d3316e72a6ebf90f4bb1bd05d7b457adf"   # forensics before issue 16's speed work
FREEDONIA_MAPPING = ROOT / "examples/forensics_demo/freedonia.toml"
RUNNER = """
import json, resource, sys, time
if sys.argv[1] != "-":
    sys.path.insert(0, sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
from escrutinio.cli import main
try:
    main(sys.argv[2:], standalone_mode=False)
finally:
    sys.stderr.write("\\nBENCH " + json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                     "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}) + "\\n")
"""


def make_election_csv(n: int, path: Path, seed: int = 1) -> Path:
    """A generated clean election of ``n`` polling stations (100-359 registered voters,
    four parties, 20 provinces, places of four tables) in the Freedonia layout."""
    import polars as pl

    rng = np.random.default_rng(seed)
    reg = rng.integers(100, 360, n)
    d = simulate_fair(reg, mu_t=0.8, sd_t=0.07, mu_v=0.46, sd_v=0.1, n_choices=4, seed=seed + 1)
    blank = rng.binomial(d.emitted - d.valid, 0.3)
    prov = np.array([f"P{i:02d}" for i in range(20)])[np.arange(n) * 20 // n]
    pl.DataFrame({
        "Acta": pl.Series(np.arange(1, n + 1)).cast(pl.Utf8).str.zfill(7), "Provincia": prov,
        "Municipio": pl.Series(np.arange(n) // 200).cast(pl.Utf8), "Escuela": pl.Series(np.arange(n) // 4).cast(pl.Utf8),
        "Inscritos": reg, "Partido Azul": d.votes[:, 0], "Unión Roja": d.votes[:, 1], "Verdes": d.votes[:, 2],
        "Otros": d.votes[:, 3], "Blancos": blank, "Nulos": d.emitted - d.valid - blank, "Votantes": d.emitted,
    }).write_csv(path)
    return path


def old_tree(workdir: Path, commit: str = BASELINE_COMMIT) -> str | None:
    """The source tree at ``commit``, extracted read-only with git archive, so that the
    old path runs in the same benchmark run as the new one."""
    import subprocess

    dest = workdir / ("old" if commit == BASELINE_COMMIT else f"old-{commit[:7]}")
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src"], check=True,
                                 capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    import io
    import tarfile

    tarfile.open(fileobj=io.BytesIO(archive)).extractall(dest)
    return str(dest / "src")


def run_cli(src: str | None, args: list[str], timeout: float) -> dict:
    """One whole CLI process (import, read, battery, placebo, output): wall, CPU and peak RSS."""
    import subprocess

    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-c", RUNNER, src or "-", *args], capture_output=True, text=True,
                           timeout=timeout, env={**os.environ, "ESCRUTINIO_PROGRESS": "0"})
    except subprocess.TimeoutExpired:
        return {"wall": None, "timeout": timeout}
    line = [x for x in p.stderr.splitlines() if x.startswith("BENCH ")]
    if p.returncode != 0 or not line:
        return {"wall": None, "error": p.stderr[-300:]}
    out = json.loads(line[-1][6:])
    out["process_wall"] = time.perf_counter() - t0
    return out


def kobak_loop_numpy(data, draws: int = 1000, seed: int = 0) -> float:
    """The baseline the issue asks for: Kobak et al.'s Monte-Carlo integer-percentage loop
    written in vectorised numpy (one binomial draw per station and per draw for turnout and
    leader, hits counted per draw). Returns the seconds it took."""
    from escrutinio.forensics.integer_percentages import hit_integer_percent

    rng = np.random.default_rng(seed)
    keep = (data.registered >= 100) & (data.emitted > 0) & (data.valid > 0) & (data.emitted <= data.registered)
    reg, emi, val = data.registered[keep], data.emitted[keep], data.valid[keep]
    lead = data.votes[keep, data.leader_index]
    t0 = time.perf_counter()
    counts = np.empty((draws, 2))
    for j in range(draws):   # Kobak's loop is over draws; stations are vectorised
        counts[j, 0] = hit_integer_percent(rng.binomial(reg, emi / reg), reg).sum()
        counts[j, 1] = hit_integer_percent(rng.binomial(val, lead / val), val).sum()
    return time.perf_counter() - t0


def _fmt_run(r: dict) -> str:
    if r.get("wall") is None:
        return f"> {r['timeout']:.0f} s (stopped)" if "timeout" in r else "failed"
    return f"{r['process_wall']:6.1f} s (CPU {r['cpu']:5.1f} s, peak {r['rss_mb']:,.0f} MB)"


def speed(sizes=(100_000, 1_000_000), old_timeout: float = 300.0, bolivia: bool = True) -> None:
    """The three acceptance figures of issue 16, new and old side by side, with the numpy
    Kobak baseline, all in this run."""
    import tempfile

    from escrutinio.cli.forensics import load_data

    print(f"cores available: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old_src = old_tree(tmp)
        if old_src is None:
            print("(old path unavailable: git archive of the baseline commit failed)")
        cases = [("Bolivia 2019 cómputo (34,555 tables)", [str(ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz")],
                  [], 5.0)] if bolivia else []
        for n in sizes:
            path = make_election_csv(n, tmp / f"election_{n}.csv")
            cases.append((f"generated election, {n:,} stations", [str(path)], ["--mapping", str(FREEDONIA_MAPPING)],
                          10.0 if n <= 100_000 else 60.0))
        print(f"{'default battery, whole CLI process':45s} {'new':>44s}   {'old (' + BASELINE_COMMIT[:7] + ')':>44s}   "
              "Kobak loop in numpy (1,000 draws)")
        for label, files, extra, target in cases:
            args = ["forensics", *files, *extra, "--format", "json"]
            new = run_cli(None, args, timeout=600)
            old = run_cli(old_src, args, timeout=old_timeout) if old_src else {"wall": None, "error": "n/a"}
            data = load_data(files, mapping=extra[1] if extra else None)
            draws = 1000 if data.n <= 200_000 else 100
            base = kobak_loop_numpy(data, draws=draws) * (1000 / draws)
            note = "" if draws == 1000 else f" (100 draws x 10)"
            ok = "meets" if new.get("wall") is not None and new["process_wall"] <= target else "MISSES"
            print(f"{label:45s} {_fmt_run(new):>44s}   {_fmt_run(old):>44s}   {base:6.1f} s{note}   "
                  f"[target <= {target:.0f} s: {ok}]", flush=True)


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


RUSSIA = ROOT.parent / "shared" / "data" / "russia"
if not RUSSIA.exists():
    RUSSIA = Path("/work/shared/data/russia")
# Kobak, Shpilkin & Pshenichnikov's published excesses (../shared/data/russia/README.md):
# (excess, sd) of stations with an integer percentage, weighting by stations
KOBAK_PUBLISHED = {2016: {"either": (1502, 118), "leader": (837, 88), "turnout": (1152, 91)},
                   2021: {"either": (1310, 119), "leader": (824, 91), "turnout": (783, 94)}}
BEFORE_ISSUE_29 = "8ad5409893596536a78025412a588698a1c41297"
# the profiles done, the Russia run at 77 s wall / 96 s CPU: before the pmf columns, the
# placebo beside the areas and one BLAS thread
BEFORE_COLUMNS = "48cba7dc2193c2563ec34fa5e6c5071d21421d9f"


def do_russia(quick: bool = False, with_old: bool = False) -> None:
    """Issue 29's acceptance figures, all in this run: the whole default CLI on Russia 2021
    with --by region (wall, CPU, peak RSS), the vectorised numpy integer-percentage loop
    alone and the ratio; --definitions kobak on 2016 and 2021 against the published
    figures; Bolivia 2019's default CLI now, before the pmf columns (BEFORE_COLUMNS) and
    before issue 29. ``with_old``: the Russia run of BEFORE_COLUMNS too (about 80 s on a
    quiet machine, several minutes on a loaded one)."""
    import tempfile

    from escrutinio.cli.forensics import load_data
    from escrutinio.forensics.core import DEFINITIONS
    from escrutinio.forensics.integer_percentages import integer_percentages

    if not (RUSSIA / "2021.csv.zip").exists():
        print(f"Russia data not found under {RUSSIA}: nothing to measure")
        return
    print(f"cores available: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f} "
          "(a shared machine: read CPU time besides wall time)")
    for year in (2016, 2021):
        data = load_data([str(RUSSIA / f"{year}.csv.zip")]).with_share_of("valid+invalid")
        r = integer_percentages(data, draws=1000, seed=1, station_filter=DEFINITIONS["kobak"].station_filter)
        cells = []
        for key in ("either", "leader", "turnout"):
            pub, sd = KOBAK_PUBLISHED[year][key]
            got = getattr(r, key)
            cells.append(f"{key} {got.excess:,.0f} (sd {got.sd:.0f}) vs {pub:,} (sd {sd}): {(got.excess - pub) / sd:+.2f} sd")
        print(f"kobak {year} ({r.n_units:,} stations): " + "; ".join(cells), flush=True)
    data = load_data([str(RUSSIA / "2021.csv.zip")])
    c0, t0 = time.process_time(), time.perf_counter()
    loop = kobak_loop_numpy(data, draws=1000)
    loop_cpu = time.process_time() - c0
    print(f"vectorised numpy integer-percentage loop alone (1,000 draws, {data.n:,} stations): {loop:.1f} s "
          f"(process CPU {loop_cpu:.1f} s, wall {time.perf_counter() - t0:.1f} s)", flush=True)
    if quick:
        return
    args = ["forensics", str(RUSSIA / "2021.csv.zip"), "--by", "region", "--format", "json"]
    load0 = os.getloadavg()[0]
    new = run_cli(None, args, timeout=3600)
    print(f"Russia 2021, defaults and --by region, whole CLI process: {_fmt_run(new)} (load {load0:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after)"
          + (f"; ratio to the numpy loop: {new['process_wall'] / loop:.1f}x wall, {new['cpu'] / loop_cpu:.1f}x CPU"
             if new.get("wall") is not None else ""), flush=True)
    if new.get("wall") is not None:
        ok = new["process_wall"] <= 30 and new["rss_mb"] <= 1536
        print(f"  target <= 30 s and <= 1.5 GB: {'meets' if ok else 'MISSES'}")
    with tempfile.TemporaryDirectory() as tmp:
        columns = old_tree(Path(tmp), BEFORE_COLUMNS)
        if with_old and columns:
            old = run_cli(columns, args, timeout=3600)
            print(f"  the same before the pmf columns ({BEFORE_COLUMNS[:7]}): {_fmt_run(old)}", flush=True)
        before = old_tree(Path(tmp), BEFORE_ISSUE_29)
        bol = ["forensics", str(ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"), "--format", "json"]
        now = run_cli(None, bol, timeout=900)
        mid = run_cli(columns, bol, timeout=900) if columns else {"wall": None, "error": "n/a"}
        old = run_cli(before, bol, timeout=900) if before else {"wall": None, "error": "n/a"}
        print(f"Bolivia 2019 cómputo, default CLI: now {_fmt_run(now)}; before the pmf columns ({BEFORE_COLUMNS[:7]}) "
              f"{_fmt_run(mid)}; before issue 29 ({BEFORE_ISSUE_29[:7]}) {_fmt_run(old)}", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "speed"
    if what == "speed":
        sizes = tuple(int(x) for x in sys.argv[2:] if x.isdigit()) or (100_000, 1_000_000)
        speed(sizes, bolivia="--skip-bolivia" not in sys.argv)
    elif what == "calibration":
        do_calibration(int(sys.argv[2]) if len(sys.argv) > 2 else 200)
    elif what == "power":
        do_power(int(sys.argv[2]) if len(sys.argv) > 2 else 50)
    elif what == "power_round":
        do_power_round(int(sys.argv[2]) if len(sys.argv) > 2 else 50)
    elif what == "bolivia":
        do_bolivia()
    elif what == "russia":
        do_russia(quick="--quick" in sys.argv, with_old="--with-old" in sys.argv)
