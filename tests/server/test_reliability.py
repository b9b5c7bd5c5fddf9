"""kill -9 in the middle of a 35,000-acta official load leaves all or nothing; 50
concurrent writers against several server worker processes lose no entry."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

import httpx
import polars as pl
import pytest
from sqlalchemy import text

from escrutinio.io import read_snapshots
from escrutinio.server.storage import official, users
from escrutinio.server.storage.db import Database
from escrutinio.server.testing import add_user, database, serve_process

from server_data import COMPUTO

LOADER = r"""
import sys
from sqlalchemy import event
from escrutinio.io import read_snapshots
from escrutinio.server.storage import official, users
from escrutinio.server.storage.db import Database
from escrutinio.server.storage.users import User

db = Database(sys.argv[1])
snaps = read_snapshots(sys.argv[2])

@event.listens_for(db.write_engine, "before_cursor_execute")
def announce(conn, cursor, statement, parameters, context, executemany):
    if "log_entries" in statement and statement.lstrip().upper().startswith("INSERT"):
        print("inserting", flush=True)

with db.session(write=True) as s:
    official.store(s, file_sha256="f" * 64, source="computo", mapping=None, snaps=snaps, presets={}, user=User(1, "admin", "admin"))
print("committed", flush=True)
"""


def _counts(url):
    db = Database(url)
    try:
        with db.session() as s:
            return {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                    for t in ("snapshots", "snapshot_contests", "log_entries", "events", "audit_log")}
    finally:
        db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_a_35000_acta_load_leaves_all_or_nothing(kind, tmp_path):
    with database(kind, tmp_path) as url:
        child = subprocess.Popen([sys.executable, "-c", LOADER, url, str(COMPUTO)], stdout=subprocess.PIPE, text=True)
        try:
            line = child.stdout.readline()  # the load is under way: 34,555 log rows being inserted
            assert line.strip() == "inserting", line
            time.sleep(0.05)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
        assert child.returncode == -signal.SIGKILL
        after_kill = _counts(url)  # "restart": a fresh engine on the same database
        assert after_kill == {"snapshots": 0, "snapshot_contests": 0, "log_entries": 0, "events": 0, "audit_log": 0}
        db = Database(url)
        db.check_schema()
        if kind == "sqlite":
            with db.session() as s:
                assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        snaps = read_snapshots(COMPUTO)
        from escrutinio.server.storage.users import User

        with db.session(write=True) as s:
            out = official.store(s, file_sha256="f" * 64, source="computo", mapping=None, snaps=snaps, presets={},
                                 user=User(1, "admin", "admin"))
        db.dispose()
        assert out["units"] == 34_555
        counts = _counts(url)
        assert counts["snapshots"] == 1 and counts["log_entries"] == 1 + 34_555


def _loading_now(url: str, kind: str) -> bool:
    """Is an official load's transaction writing its log rows right now?"""
    if kind == "sqlite":
        wal = Path(url.removeprefix("sqlite:///") + "-wal")
        return wal.exists() and wal.stat().st_size > 2_000_000
    db = Database(url)
    try:
        with db.session() as s:
            return bool(s.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query ILIKE 'INSERT INTO log_entries%'"
                " AND pid <> pg_backend_pid()")).scalar())
    finally:
        db.dispose()


@pytest.mark.parametrize("kind", ["sqlite"])
def test_kill_9_of_the_server_during_a_load_and_restart(kind, tmp_path):
    """The same through `escrutinio serve` on the embedded database (PostgreSQL: the
    test above): kill -9 its whole process group while the 34,555-acta upload is being
    written, restart it, and find all or nothing."""
    with database(kind, tmp_path) as url:
        admin = {"Authorization": f"Bearer {add_user(url, 'admin', 'kill-admin')}"}
        with serve_process(url, tmp_path / "data", workers=1) as served:
            def upload():
                try:
                    with open(COMPUTO, "rb") as f:
                        return httpx.post(served.base + "/api/v1/official", files={"file": (COMPUTO.name, f)},
                                          headers=admin, timeout=300).status_code
                except httpx.HTTPError as exc:
                    return exc.__class__.__name__

            with ThreadPoolExecutor(1) as pool:
                pending = pool.submit(upload)
                deadline = time.monotonic() + 120
                while not _loading_now(url, kind) and not pending.done() and time.monotonic() < deadline:
                    time.sleep(0.02)
                killed_mid_load = not pending.done()
                os.killpg(served.process.pid, signal.SIGKILL)
                served.process.wait(timeout=30)
                outcome = pending.result(timeout=60)
        counts = _counts(url)
        assert counts["log_entries"] in (0, 1 + 34_555) and counts["snapshots"] in (0, 1)
        assert (counts["snapshots"] == 0) == (counts["log_entries"] == 0)
        if killed_mid_load:
            assert outcome != 200 and counts["snapshots"] == 0, (outcome, counts)
        with serve_process(url, tmp_path / "data", workers=1) as served:  # the restart
            assert len(httpx.get(served.base + "/api/v1/snapshots").json()) == counts["snapshots"]
            with open(COMPUTO, "rb") as f:
                r = httpx.post(served.base + "/api/v1/official", files={"file": (COMPUTO.name, f)}, headers=admin, timeout=300)
            assert r.status_code == 200 and r.json()["units"] == 34_555
            assert r.json()["created"] == (counts["snapshots"] == 0)
        assert _counts(url)["log_entries"] == 1 + 34_555
        assert killed_mid_load, "the kill did not land during the load (the test still checked all-or-nothing)"


def test_embedded_writers_queue_instead_of_failing(tmp_path, small_computo):
    """20 threads writing through the repositories at once on the embedded database:
    BEGIN IMMEDIATE makes them queue; none fails with "database is locked"."""
    from escrutinio.observers import double_entry as de
    from escrutinio.server.storage import copies

    with database("sqlite", tmp_path) as url:
        snap = read_snapshots(small_computo)[0]
        db = Database(url)
        admin = users.User(1, "admin", "admin")
        with db.session(write=True) as s:
            official.store(s, file_sha256="a" * 64, source="x", mapping=None, snaps=[snap], presets={}, user=admin)
            typists = [users.add_user(s, f"t{i}", "typist")[0] for i in range(20)]
        fields = [*snap.choices, "blank", "null", "registered", "emitted"]
        rows = snap.frame.select("unit", *fields).head(100).to_dicts()
        check = de.copy_checker(snap.choices)

        def writer(i: int) -> int:
            n = 0
            for j, row in enumerate(rows[i * 5:(i + 1) * 5] + rows[((i + 1) % 20) * 5:((i + 1) % 20 + 1) * 5]):
                with db.session(write=True) as s:
                    copies.submit(s, unit=row["unit"], contest=snap.contest, values={f: row[f] for f in fields},
                                  client_id=f"{i}-{j}", user=typists[i], check=check, levels={})
                n += 1
            return n

        with ThreadPoolExecutor(20) as pool:
            assert sum(pool.map(writer, range(20))) == 200
        with db.session() as s:
            assert copies.states(s, snap.contest)["agreed"] == 100
            seqs = s.execute(text("SELECT seq FROM log_entries ORDER BY seq")).scalars().all()
        db.dispose()
        assert seqs == list(range(len(seqs))) and len(seqs) == 1 + snap.n_units + 100


def test_50_concurrent_writers_lose_no_entry(tmp_path, small_computo):
    kind = "postgresql"
    with database(kind, tmp_path) as url, serve_process(url, tmp_path / "data", workers=2) as served:
        base = served.base
        admin = add_user(url, "admin", "bench-admin")
        with open(small_computo, "rb") as f:
            r = httpx.post(base + "/api/v1/official", files={"file": (small_computo.name, f)},
                           headers={"Authorization": f"Bearer {admin}"}, timeout=120)
        assert r.status_code == 200, r.text
        snap = read_snapshots(small_computo)[0]
        fields = [*snap.choices, "blank", "null", "registered", "emitted"]
        rows = {r["unit"]: {f: int(r[f]) for f in fields} for r in snap.frame.select("unit", *fields).to_dicts()}
        units = list(rows)[:400]
        db = Database(url)
        with db.session(write=True) as s:
            tokens = [users.add_user(s, f"typist-{i}", "typist")[1] for i in range(50)]
        db.dispose()
        per = 3  # actas per writer: 150 actas, 300 entries, 600 requests in all

        def writer(i: int) -> list[tuple[str, int]]:
            # typist i types its own block first and its neighbour's block second, so
            # two writers race on every acta; every submission is sent twice (a retry)
            mine = units[i * per:(i + 1) * per]
            theirs = units[((i + 1) % 50) * per:((i + 1) % 50 + 1) * per]
            out = []
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[i]}"}, timeout=120) as c:
                for u in [x for pair in zip(mine, theirs) for x in pair]:
                    body = {"unit": u, "values": rows[u], "client_id": f"{i}-{u}"}
                    first = c.post("/api/v1/entries", json=body)
                    retry = c.post("/api/v1/entries", json=body)
                    out.append((u, first.status_code))
                    assert first.status_code == 200, first.text
                    assert retry.status_code == 200 and retry.json()["entry_id"] == first.json()["entry_id"]
            return out

        with ThreadPoolExecutor(50) as pool:
            results = [x for part in pool.map(writer, range(50)) for x in part]
        assert len(results) == 2 * 50 * per and all(s == 200 for _, s in results)
        states = httpx.get(base + "/api/v1/entries/states").json()["states"]
        assert states["agreed"] == 50 * per and sum(states.values()) == 50 * per
        db = Database(url)
        with db.session() as s:
            assert s.execute(text("SELECT count(*) FROM entries")).scalar() == 2 * 50 * per
            assert s.execute(text("SELECT count(*) FROM log_entries WHERE kind = 'copy_agreed'")).scalar() == 50 * per
            seqs = s.execute(text("SELECT seq FROM log_entries ORDER BY seq")).scalars().all()
        db.dispose()
        assert seqs == list(range(len(seqs)))  # no gap, no fork under concurrency
        # the change feed is the database's: any worker streams every worker's events
        seen = {"snapshot": 0, "entry": 0}
        with httpx.stream("GET", base + "/api/v1/events", params={"after": 0}, timeout=60) as r:
            for line in r.iter_lines():
                if line.startswith("event: ") and line[7:] in seen:
                    seen[line[7:]] += 1
                if seen["entry"] >= 2 * 50 * per:
                    break
        assert seen == {"snapshot": 1, "entry": 2 * 50 * per}
        copies = httpx.get(base + "/api/v1/results", params={"source": "copies"}).json()
        assert copies["units"] == 50 * per
        assert httpx.get(base + "/api/v1/discrepancies").json() == []
