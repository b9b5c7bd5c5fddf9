"""Loading an official file into the server against reading it (issue 26).

In one run, on the same file (default: the bundled 34,555-acta count of Bolivia 2019):

1. ``escrutinio results FILE`` as a command: wall and CPU time of the whole process
   (the reference the issue sets: an upload may take at most 3x this).
2. ``POST /api/v1/official`` of the same file to a fresh ``escrutinio serve`` (one
   worker, a signing key), on SQLite and on PostgreSQL (a database of its own, dropped
   afterwards): the request's wall time, the server's CPU time over the request, and the
   time until the static publication folder of the signed checkpoint is on disk (it is
   written after the answer, in the background). Then ``escrutinio verify-log`` on that
   folder.

Each figure is the median of ``--repeat`` runs, every run on a fresh database. The
machine is shared: compare the ratio, measured in the same run, not absolute times.

Usage: python benchmarks/bench_upload.py [--file F] [--repeat 3] [--skip-postgres]
"""
from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = ROOT / "examples" / "bolivia" / "2019" / "computo_2019-10-25.csv.gz"
TICK = os.sysconf("SC_CLK_TCK")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "escrutinio", *args], capture_output=True, text=True)


def results_command(path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of ``escrutinio results FILE`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = _cli("results", str(path))
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"escrutinio results failed:\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every live process in a process group."""
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # fields[2] is the process group (5th field of stat)
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def upload(url: str, path: Path, work: Path) -> dict:
    """One upload of ``path`` to a fresh ``escrutinio serve`` on the migrated, empty ``url``."""
    from escrutinio.publication.checkpoint import generate_key
    from escrutinio.server.testing import add_user, serve_process

    key = work / "keys" / "signing-key.pem"
    generate_key(key)
    data = work / "data"
    token = add_user(url, "admin", "bench-admin")
    with serve_process(url, data, workers=1, timeout=120, extra=("--signing-key", str(key)),
                       log=work / "serve.log") as served:
        proc = served.process
        time.sleep(0.5)  # let start-up work settle before counting CPU
        cpu0 = _group_cpu(proc.pid)
        with open(path, "rb") as fh, httpx.Client(base_url=served.base, timeout=600) as client:
            t = time.perf_counter()
            r = client.post("/api/v1/official", files={"file": (path.name, fh, "application/gzip")},
                            headers={"Authorization": f"Bearer {token}"})
            wall = time.perf_counter() - t
        cpu = _group_cpu(proc.pid) - cpu0
        if r.status_code != 200:
            raise SystemExit(f"upload answered {r.status_code}: {r.text[:1000]}")
        body = r.json()
        cp = (body.get("checkpoint") or {}).get("checkpoint") or {}
        size = cp.get("tree_size")
        folder = data / "publication" / f"{size or 0:012d}"
        published = None
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            if folder.is_dir():
                published = time.perf_counter() - t
                break
            time.sleep(0.02)
        cpu_all = _group_cpu(proc.pid) - cpu0
        return {"wall": wall, "cpu": cpu, "published": published, "cpu_with_publication": cpu_all,
                "tree_size": size, "units": body.get("units"), "folder": folder, "signed": bool(size)}


def verify(folder: Path) -> str:
    done = _cli("verify-log", str(folder.parent))
    first = (done.stdout or done.stderr).strip().splitlines()
    return ("ok" if done.returncode == 0 else f"FAILED ({done.returncode})") + (f": {first[0]}" if first else "")


def sqlite_db(work: Path) -> str:
    from escrutinio.server.storage.db import migrate

    url = f"sqlite:///{work / 'escrutinio.db'}"
    migrate(url)
    return url


class PostgresDatabase:
    """A database of its own on the test PostgreSQL (``<prefix><hex>``), migrated, dropped on exit."""

    def __init__(self, prefix: str = "bench_upload_"):
        from escrutinio.server.testing import postgres_base

        self.base = postgres_base()
        self.name = prefix + secrets.token_hex(4)

    def __enter__(self) -> str:
        import psycopg
        from sqlalchemy.engine import make_url

        from escrutinio.server.storage.db import migrate

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        url = make_url(self.base).set(database=self.name).render_as_string(hide_password=False)
        migrate(url)
        return url

    def __exit__(self, *exc) -> None:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
    path = args.file.resolve()
    with open("/proc/loadavg") as fh:
        print(f"load average before: {fh.read().split()[:3]} on {os.cpu_count()} cores; file {path.name}")

    backends = ["sqlite"]
    if not args.skip_postgres:
        from escrutinio.server.testing import postgres_unreachable

        reason = postgres_unreachable()
        if reason:
            print(f"[postgresql] skipped: {reason}")
        else:
            backends.append("postgresql")

    reads, uploads = [], {b: [] for b in backends}
    verified = {}
    # interleaved, so that a burst of load elsewhere on the machine hits every figure alike
    for i in range(args.repeat):
        reads.append(results_command(path))
        for b in backends:
            with tempfile.TemporaryDirectory(prefix="bench-upload-") as d:
                work = Path(d)
                if b == "sqlite":
                    out = upload(sqlite_db(work), path, work)
                    if i == 0:
                        verified[b] = verify(out["folder"]) if out["published"] else "no publication folder"
                else:
                    with PostgresDatabase() as url:
                        out = upload(url, path, work)
                        if i == 0:
                            verified[b] = verify(out["folder"]) if out["published"] else "no publication folder"
                uploads[b].append(out)

    med = statistics.median
    r_wall, r_cpu = med(w for w, _ in reads), med(c for _, c in reads)
    print(f"escrutinio results {path.name}: wall {r_wall:.2f} s, CPU {r_cpu:.2f} s (median of {len(reads)}; "
          f"whole process, start-up included)")
    for b in backends:
        rs = uploads[b]
        wall, cpu = med(x["wall"] for x in rs), med(x["cpu"] for x in rs)
        pub = [x["published"] for x in rs if x["published"] is not None]
        pub_txt = f"{med(pub):.2f} s after the request started" if pub else "NOT written"
        print(f"[{b}] upload of {rs[0]['units']:,} actas ({rs[0]['tree_size']:,} log entries, checkpoint "
              f"{'signed' if rs[0]['signed'] else 'NOT signed'}): wall {wall:.2f} s, server CPU {cpu:.2f} s; "
              f"ratio to `escrutinio results`: {wall / r_wall:.2f}x wall, {cpu / r_cpu:.2f}x CPU (target <= 3x)")
        print(f"[{b}]   static publication folder on disk {pub_txt} (server CPU including it: "
              f"{med(x['cpu_with_publication'] for x in rs):.2f} s); verify-log: {verified.get(b)}")
        walls = ", ".join(f"{x['wall']:.2f}" for x in rs)
        print(f"[{b}]   upload walls: {walls} s; results walls: {', '.join(f'{w:.2f}' for w, _ in reads)} s")
    with open("/proc/loadavg") as fh:
        print(f"load average after: {fh.read().split()[:3]}")


if __name__ == "__main__":
    main()
