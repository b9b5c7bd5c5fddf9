"""A large country's count loaded into the server on PostgreSQL, and served (issue 26:
"1,000,000 actas load and serve results on PostgreSQL with memory bounded").

For each size (default 100,000 then 1,000,000 actas), in one run:

1. A generated count of that many actas, the shape of a large country (Indonesia's: 34
   provinces, 514 regencies, 7,200 districts, 83,000 villages, 150 to 300 voters an acta),
   12 choices, gzipped CSV with a mapping (``[law] preset = "plurality"``). Made once
   into ``benchmarks/_data``.
2. The baseline: ``escrutinio results FILE --mapping M --level province`` in a fresh
   process: wall time and its peak RSS (``ru_maxrss`` of that child, from ``wait4``).
3. ``escrutinio serve --workers 1`` with a signing key on a PostgreSQL database of its
   own (created, migrated, dropped afterwards): ``POST /api/v1/official`` of the file
   (the same path an administrator's upload takes), its wall time, and the time until
   the server has settled (static publication folder on disk, projection stored; the
   server gets ``--roll``, every table with its voters, so that the projection is made).
   Then ``GET /api/v1/results`` (country; ``level=province``; ``level=village``
   filtered to one district): the first request after the load, then warm.
4. The server stopped and started again: the same requests cold (the snapshot read back
   from the database) and warm.

Peak RSS of the server is each process's ``VmHWM`` (``/proc/PID/status``) read before it
is stopped, so it covers the upload, the background publication and projection, and the
requests; RSS is also sampled every 0.2 s to say when the peak happened. The load
average is printed before and after: the machine may be shared.

Usage: python benchmarks/bench_scale_pg.py [--actas 100000,1000000] [--skip-cli] [--no-restart]
"""
from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_upload  # noqa: E402  (its PostgresDatabase)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "_data"
CHOICES = [f"P{i:02d}" for i in range(1, 13)]
# Indonesia's administrative tree (2019): provinces, regencies/cities, districts, villages
SHAPE = (("province", 34), ("regency", 514), ("district", 7_200), ("village", 83_000))

MAPPING = """
[election]
name = "Generated large country"
contest = "President"
[columns]
unit = "table"
registered = "registered"
blank = "blank"
null = "null"
emitted = "emitted"
[levels]
%s
[choices]
columns = [%s]
[law]
preset = "plurality"
""" % ("\n".join(f'{lv} = "{lv}"' for lv, _ in SHAPE), ", ".join(f'"{c}"' for c in CHOICES))


def generate(n: int, path: Path) -> None:
    """n actas spread over the villages (sorted by place, as an export is), each village in
    one district, each district in one regency, each regency in one province."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(26)
    villages = SHAPE[-1][1]
    village = np.sort(rng.integers(0, villages, n))
    codes = {"village": village}
    below = village
    for (lv, count), (_, count_below) in zip(reversed(SHAPE[:-1]), reversed(SHAPE[1:])):
        below = below * count // count_below  # contiguous blocks: a tree, every parent non-empty
        codes[lv] = below
    registered = rng.integers(150, 301, n)
    turnout = np.clip(rng.normal(0.78, 0.08, n), 0.2, 1.0)
    emitted = rng.binomial(registered, turnout)
    blank = rng.binomial(emitted, 0.02)
    null = rng.binomial(emitted - blank, 0.03)
    valid = emitted - blank - null
    weights = rng.dirichlet(np.linspace(6, 0.5, len(CHOICES)), n)
    votes = np.zeros((n, len(CHOICES)), dtype=np.int64)
    left, rest = valid.copy(), np.ones(n)
    for j in range(len(CHOICES) - 1):  # a multinomial per row, by sequential binomials
        p = np.clip(weights[:, j] / np.maximum(rest, 1e-12), 0, 1)
        votes[:, j] = rng.binomial(left, p)
        left -= votes[:, j]
        rest -= weights[:, j]
    votes[:, -1] = left
    width = {lv: len(str(count)) for lv, count in SHAPE}
    frame = pl.DataFrame({
        "table": np.arange(1, n + 1),
        **{lv: lv.capitalize() + " " + pl.Series(codes[lv]).cast(pl.Utf8).str.zfill(width[lv]) for lv, _ in SHAPE},
        "registered": registered,
        **{c: votes[:, j] for j, c in enumerate(CHOICES)},
        "blank": blank, "null": null, "emitted": emitted,
    })
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wb", compresslevel=6) as out:
        frame.write_csv(out)
    tmp.rename(path)


def write_roll(count: Path, roll: Path) -> None:
    """The roll the server's projection takes (``--roll``): every table with its voters and
    its village as polling place (the server reads a roll without a mapping: generic headers)."""
    import polars as pl

    pl.read_csv(count, columns=["table", "village", "registered"]).rename(
        {"table": "unit", "village": "place_id"}).write_csv(roll)


def data_files(n: int) -> tuple[Path, Path, Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    mapping = DATA / "scale_country.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    path = DATA / f"scale_country_{n}.csv.gz"
    if not path.exists():
        t = time.perf_counter()
        generate(n, path)
        print(f"  generated {path.name} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s")
    roll = DATA / f"scale_country_{n}_roll.csv"
    if not roll.exists():
        write_roll(path, roll)
    return path, mapping, roll


def loadavg() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


# ------------------------------------------------------------------ processes and memory
def _group_pids(pgid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[2]) == pgid:
            out.append(int(d))
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler:
    """RSS of a process group every ``every`` seconds, with the phase it was taken in."""

    def __init__(self, pgid: int, every: float = 0.2):
        self.pgid, self.every, self.phase = pgid, every, "start"
        self.samples: list[tuple[float, str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.perf_counter()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            rss = sum(_status_kb(p, "VmRSS") for p in _group_pids(self.pgid))
            self.samples.append((time.perf_counter() - self._t0, self.phase, rss))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def by_phase(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, phase, rss in self.samples:
            out[phase] = max(out.get(phase, 0), rss)
        return out


class Server:
    """``escrutinio serve`` (``server.testing.serve_process``) with a memory sampler;
    ``hwm_kb()`` reads every process's VmHWM."""

    def __init__(self, url: str, work: Path, key: Path, roll: Path | None):
        from escrutinio.server.testing import serve_process

        self._serving = serve_process(url, work / "data", workers=1, timeout=120, stop_timeout=60,
                                      extra=("--signing-key", str(key), *(["--roll", str(roll)] if roll else [])),
                                      log=work / "serve.log")
        served = self._serving.__enter__()
        self.base, self.proc = served.base, served.process
        self.sampler = Sampler(self.proc.pid)

    def hwm_kb(self) -> dict[int, int]:
        return {p: _status_kb(p, "VmHWM") for p in _group_pids(self.proc.pid)}

    def rss_kb(self) -> int:
        return sum(_status_kb(p, "VmRSS") for p in _group_pids(self.proc.pid))

    def stop(self) -> None:
        self.sampler.stop()
        self._serving.__exit__(None, None, None)


class PostgresDatabase(bench_upload.PostgresDatabase):
    """A database of its own on the test PostgreSQL (``scale_<hex>``), dropped on exit."""

    def __init__(self):
        super().__init__(prefix="scale_")

    def size_mb(self) -> float:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            return conn.execute("SELECT pg_database_size(%s)", (self.name,)).fetchone()[0] / 1e6


# ------------------------------------------------------------------ the runs
def cli_results(path: Path, mapping: Path) -> dict:
    """``escrutinio results`` in a fresh process: wall seconds and its own peak RSS."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "escrutinio", "results", str(path), "--mapping", str(mapping),
                             "--level", "province", "--format", "json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"escrutinio results failed ({proc.returncode}): {err[-2000:]}")
    return {"wall": wall, "peak_mb": usage.ru_maxrss / 1024}


def _get(client: httpx.Client, path: str, params: dict, headers: dict) -> tuple[float, int, int]:
    t = time.perf_counter()
    r = client.get(path, params=params, headers=headers)
    dt = time.perf_counter() - t
    if r.status_code != 200:
        raise SystemExit(f"GET {path} {params} answered {r.status_code}: {r.text[:1000]}")
    return dt, len(r.content), r.json().get("totals", {}).get("valid") if "totals" in r.json() else 0


def views(first_district: str) -> list[tuple[str, dict]]:
    return [("country", {}), ("level=province", {"level": "province"}),
            ("village of one district", {"level": "village", "filter": f"district={first_district}"})]


def read_views(server: Server, headers: dict, first_district: str, sampler_phase: str) -> dict:
    out = {}
    server.sampler.phase = sampler_phase
    with httpx.Client(base_url=server.base, timeout=900) as client:
        for name, params in views(first_district):
            cold = _get(client, "/api/v1/results", params, headers)
            warm = min(_get(client, "/api/v1/results", params, headers)[0] for _ in range(5))
            out[name] = {"first": cold[0], "warm": warm, "bytes": cold[1], "valid": cold[2]}
    return out


def wait_settled(server: Server, headers: dict, data: Path, tree_size: int | None, timeout: float = 1800) -> dict:
    """Seconds until the static folder of the checkpoint is on disk and the projection is stored."""
    t0 = time.perf_counter()
    published = projected = None
    folder = data / "publication" / f"{tree_size or 0:012d}"
    status = note = None
    with httpx.Client(base_url=server.base, timeout=60) as client:
        while time.perf_counter() - t0 < timeout and (published is None or projected is None):
            # which background work is still running when RSS is sampled
            server.sampler.phase = " + ".join(name for name, done in (("projection", projected), ("publication", published))
                                              if done is None)
            if published is None and folder.is_dir():
                published = time.perf_counter() - t0
            if projected is None:
                r = client.get("/api/v1/projection", headers=headers)
                if r.status_code == 200 and r.json().get("status") != "pending":
                    projected, status = time.perf_counter() - t0, r.json().get("status")
                    note = r.json().get("note")
            time.sleep(0.25)
    return {"published": published, "projected": projected, "projection_status": status, "projection_note": note}


def run_size(n: int, skip_cli: bool, restart: bool, with_roll: bool) -> dict:
    from escrutinio.publication.checkpoint import generate_key
    from escrutinio.server.testing import add_user

    path, mapping, roll = data_files(n)
    roll = roll if with_roll else None
    out: dict = {"n": n, "file_mb": path.stat().st_size / 1e6}
    if not skip_cli:
        out["cli"] = cli_results(path, mapping)
        print(f"  [cli] escrutinio results: wall {out['cli']['wall']:.1f} s, peak RSS {out['cli']['peak_mb']:.0f} MB",
              flush=True)
    first_district = "District " + "0" * (len(str(SHAPE[2][1])) - 1) + "0"
    pg = PostgresDatabase()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as d, pg as url:
        work = Path(d)
        key = work / "keys" / "signing-key.pem"
        generate_key(key)
        headers = {"Authorization": f"Bearer {add_user(url, 'admin', 'bench-admin')}"}
        server = Server(url, work, key, roll)
        try:
            out["idle_mb"] = server.rss_kb() / 1024
            server.sampler.phase = "upload"
            with open(path, "rb") as fh, open(mapping, "rb") as mh, httpx.Client(base_url=server.base, timeout=3600) as c:
                t = time.perf_counter()
                r = c.post("/api/v1/official", headers=headers,
                           files={"file": (path.name, fh, "application/gzip"), "mapping": (mapping.name, mh, "text/plain")})
                out["upload_s"] = time.perf_counter() - t
            if r.status_code != 200:
                raise SystemExit(f"upload answered {r.status_code} after {out['upload_s']:.1f} s: {r.text[:1000]}")
            body = r.json()
            out["units"] = body["units"]
            cp = (body.get("checkpoint") or {}).get("checkpoint") or {}
            out["tree_size"] = cp.get("tree_size")
            out["after_upload_mb"] = server.rss_kb() / 1024
            print(f"  [serve] upload {out['units']:,} actas: {out['upload_s']:.1f} s "
                  f"(checkpoint {'signed, ' + format(cp.get('tree_size'), ',') + ' entries' if cp else 'NOT signed'})",
                  flush=True)
            out["settled"] = wait_settled(server, headers, work / "data", out["tree_size"])
            out["reads_after_load"] = read_views(server, headers, first_district, "reads")
            out["hwm_load"] = server.hwm_kb()
            out["phases_load"] = server.sampler.by_phase()
        finally:
            server.stop()
        out["db_mb"] = pg.size_mb()
        if restart:
            server = Server(url, work, key, roll)
            try:
                out["idle_restart_mb"] = server.rss_kb() / 1024
                out["reads_restart"] = read_views(server, headers, first_district, "reads")
                out["rss_restart_mb"] = server.rss_kb() / 1024
                out["hwm_restart"] = server.hwm_kb()
            finally:
                server.stop()
    return out


def report(o: dict) -> None:
    n = o["n"]
    print(f"[{n:,}] file {o['file_mb']:.1f} MB gzipped; PostgreSQL database after the load {o['db_mb']:.0f} MB")
    if "cli" in o:
        print(f"[{n:,}] baseline `escrutinio results --level province`: wall {o['cli']['wall']:.1f} s, "
              f"peak RSS {o['cli']['peak_mb']:.0f} MB")
    hwm = max(o["hwm_load"].values()) / 1024
    ratio = f" = {o['upload_s'] / o['cli']['wall']:.1f}x the CLI's wall" if "cli" in o else ""
    print(f"[{n:,}] serve: idle {o['idle_mb']:.0f} MB; upload {o['upload_s']:.1f} s{ratio}; "
          f"RSS just after the answer {o['after_upload_mb']:.0f} MB; "
          f"peak RSS (VmHWM, upload + background + reads) {hwm:.0f} MB"
          + (f" = {hwm / o['cli']['peak_mb']:.1f}x the CLI's" if "cli" in o else ""))
    phases = ", ".join(f"{k} {v / 1024:.0f} MB" for k, v in o["phases_load"].items())
    print(f"[{n:,}]   sampled RSS peak by phase: {phases}")
    s = o["settled"]
    print(f"[{n:,}]   after the answer: static folder on disk at {s['published'] or float('nan'):.1f} s, projection "
          f"({s['projection_status']}) stored at {s['projected'] or float('nan'):.1f} s"
          + (f"; its note: {s['projection_note'][:160]}" if s.get("projection_note") else ""))
    for label, key in (("first after load", "reads_after_load"), ("cold after restart", "reads_restart")):
        if key not in o:
            continue
        parts = [f"{name} {v['first'] * 1000:.0f} ms / warm {v['warm'] * 1000:.1f} ms ({v['bytes'] / 1e3:.0f} kB)"
                 for name, v in o[key].items()]
        print(f"[{n:,}]   results {label}: " + "; ".join(parts))
    if "hwm_restart" in o:
        print(f"[{n:,}]   restarted server: idle {o['idle_restart_mb']:.0f} MB, after the reads "
              f"{o['rss_restart_mb']:.0f} MB, peak {max(o['hwm_restart'].values()) / 1024:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actas", default="100000,1000000", help="sizes, comma-separated (e.g. 20000 for a quick run)")
    ap.add_argument("--skip-cli", action="store_true", help="no `escrutinio results` baseline")
    ap.add_argument("--no-restart", action="store_true", help="no cold reads after a restart")
    ap.add_argument("--no-roll", action="store_true", help="serve without --roll (the projection is then unavailable)")
    args = ap.parse_args()
    from escrutinio.server.testing import postgres_unreachable

    if reason := postgres_unreachable():
        raise SystemExit(reason)
    sizes = [int(x.replace("_", "")) for x in args.actas.split(",") if x.strip()]
    print(f"load average before: {loadavg()} on {os.cpu_count()} cores; sizes {sizes}", flush=True)
    results = []
    for n in sizes:
        print(f"[{n:,}] ...", flush=True)
        results.append(run_size(n, args.skip_cli, not args.no_restart, not args.no_roll))
        report(results[-1])
        print(f"  load average now: {loadavg()}", flush=True)
    if len(results) > 1:
        a, b = results[0], results[-1]
        grow = (max(b["hwm_load"].values()) - max(a["hwm_load"].values())) / 1024 / ((b["n"] - a["n"]) / 1e5)
        print(f"server peak RSS grows {grow:.0f} MB per 100,000 actas between {a['n']:,} and {b['n']:,}")
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
