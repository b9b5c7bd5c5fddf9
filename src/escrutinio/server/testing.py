"""Test helpers for the server and the areas built on it (LOG, PVT, DASH).

Databases: ``sqlite_url(tmp_path)`` (a fresh embedded file) and ``postgres_url()`` (a
context manager: a fresh schema in the PostgreSQL named by ``ESCRUTINIO_TEST_POSTGRES``,
default ``postgresql://postgres@127.0.0.1:5432/test``, dropped afterwards). When
PostgreSQL is unreachable the test FAILS under ``CI=true`` and is skipped elsewhere, with
the reason shown.

Pytest fixtures (import them into a conftest.py, e.g.
``from escrutinio.server.testing import database_url, server_client  # noqa: F401``):

* ``database_url``: parametrised over ``sqlite`` and ``postgresql``; migrated, empty.
* ``server_client``: a :class:`ServerClient` on that database: ``.client`` (a Starlette
  TestClient on ``create_app``), ``.token(role)`` / ``.headers(role)`` making users, and
  ``.load(path)`` posting an official file as admin.
"""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from escrutinio.server.settings import Settings
from escrutinio.server.storage import users
from escrutinio.server.storage.db import Database, migrate

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_base() -> str:
    return os.environ.get("ESCRUTINIO_TEST_POSTGRES", DEFAULT_POSTGRES)


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used (None when it can)."""
    try:
        import psycopg

        with psycopg.connect(postgres_base(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:
        return f"PostgreSQL at {postgres_base()} unreachable: {exc.__class__.__name__}: {str(exc).strip()[:200]}"


def require_postgres() -> None:
    reason = postgres_unreachable()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (required under CI=true)")
    pytest.skip(reason)


def sqlite_url(tmp_path: Path, name: str = "escrutinio.db") -> str:
    return f"sqlite:///{Path(tmp_path) / name}"


@contextmanager
def postgres_url() -> Iterator[str]:
    """A fresh schema (search_path set in the URL), dropped on exit."""
    import psycopg

    require_postgres()
    schema = "t_" + secrets.token_hex(6)
    base = postgres_base()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of ``kind`` (``sqlite`` or ``postgresql``)."""
    if kind == "sqlite":
        url = sqlite_url(tmp_path)
        migrate(url)
        yield url
    else:
        with postgres_url() as url:
            migrate(url)
            yield url


def add_user(url: str, role: str, name: str | None = None) -> str:
    db = Database(url)
    try:
        with db.session(write=True) as s:
            return users.add_user(s, name or f"{role}-{secrets.token_hex(3)}", role)[1]
    finally:
        db.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A running ``escrutinio serve``: ``base`` URL and the ``process`` (leader of its
    own process group, so ``os.killpg(process.pid, ...)`` reaches its workers too)."""

    def __init__(self, base: str, process):
        self.base, self.process = base, process


@contextmanager
def serve_process(url: str, data_dir: Path, workers: int = 2, timeout: float = 90.0, extra: tuple[str, ...] = (),
                  log: Path | None = None, stop_timeout: float = 30.0) -> Iterator[Served]:
    """``escrutinio serve`` in its own process group on a free loopback port; yields a
    :class:`Served` once it answers and stops it (SIGTERM, then SIGKILL after
    ``stop_timeout`` s) on exit if it still runs. ``extra``: more ``serve`` options (a
    signing key, a roll); ``log``: a file its stderr is appended to, whose tail a failure
    to start quotes. The tests and the server benchmarks start servers through this."""
    import signal
    import subprocess
    import sys
    import time

    import httpx

    port = _free_port()
    err = open(log, "ab") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "escrutinio", "serve", "--database", url, "--port", str(port),
                             "--workers", str(workers), "--data-dir", str(data_dir), "--log-level", "warning", *extra],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=err)

    def stop() -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def tail() -> str:
        return f": {Path(log).read_text(errors='replace')[-2000:]}" if log is not None else ""

    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"escrutinio serve exited with {proc.returncode}{tail()}")
            try:
                if httpx.get(base + "/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"escrutinio serve did not answer within {timeout:.0f} s{tail()}")
            time.sleep(0.1)
        yield Served(base, proc)
    finally:
        stop()
        if log is not None:
            err.close()


class ServerClient:
    """A TestClient on a migrated database, with users made on demand."""

    def __init__(self, url: str, tmp_path: Path, **settings):
        from escrutinio.server.inprocess import test_client_class
        TestClient = test_client_class()

        from escrutinio.server.app import create_app

        self.url = url
        # tests send hundreds of requests a second from one address and one token;
        # the limits themselves are tested with explicit settings
        settings.setdefault("rate_limit_client", None)
        settings.setdefault("rate_limit_token", None)
        settings.setdefault("rate_limit_query", None)
        self.settings = Settings(database_url=url, data_dir=Path(tmp_path) / "data", **settings)
        self.app = create_app(self.settings)
        self.client = TestClient(self.app)
        self._tokens: dict[str, str] = {}

    def token(self, role: str, name: str | None = None) -> str:
        if name is None and role in self._tokens:
            return self._tokens[role]
        token = add_user(self.url, role, name)
        if name is None:
            self._tokens[role] = token
        return token

    def headers(self, role: str, name: str | None = None) -> dict:
        return {"Authorization": f"Bearer {self.token(role, name)}"}

    def load(self, path: Path, mapping_name: str | None = None) -> dict:
        with open(path, "rb") as f:
            r = self.client.post("/api/v1/official", files={"file": (Path(path).name, f)},
                                 data={"mapping_name": mapping_name} if mapping_name else None, headers=self.headers("admin"))
        assert r.status_code == 200, r.text
        return r.json()

    def close(self) -> None:
        from escrutinio.server import checkpointing

        self.client.close()
        # the static publication is written in the background: let it end before the
        # test's database (or schema) is dropped under it
        checkpointing.wait_published(120)
        self.app.state.db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def server_client(database_url, tmp_path) -> Iterator[ServerClient]:
    c = ServerClient(database_url, tmp_path, events_lifetime=1.0, events_poll=0.05)
    try:
        yield c
    finally:
        c.close()


def head_of(src: Path, target: Path, rows: int) -> Path:
    """The header and the first ``rows`` lines of a gzipped CSV (same layout, fewer actas)."""
    import gzip

    with gzip.open(src, "rb") as f, gzip.open(target, "wb") as out:
        for i, line in enumerate(f):
            if i > rows:
                break
            out.write(line)
    return target


def sample_audit_report(results: Path, workdir: Path, change: tuple[str, int] | None = None) -> dict:
    """A real audit's report (``escrutinio audit report --format json``) of a results file:
    plan at risk limit 10% (plurality), draw with a public seed, hand counts equal to the
    published numbers, or with ``change = (choice, delta)`` in the first drawn table."""
    import json

    import polars as pl

    from escrutinio.audit import workflow
    from escrutinio.io import read_snapshots

    ws = workflow.MemoryWorkspace()
    workflow.plan(ws, results, risk_limit=0.1, assertion_kind="plurality")
    d = workflow.draw(ws, "default", seed="20191020", ceremony="ten dice, in public")
    snap = read_snapshots(results)[0]
    counts = snap.frame.filter(pl.col("unit").is_in(d["tables_to_count"])).select("unit", *snap.choices)
    if change:
        counts = counts.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.col(change[0]) + change[1])
                                     .otherwise(pl.col(change[0])).alias(change[0]))
    counts.write_csv(Path(workdir) / "hand_counts.csv")
    workflow.record(ws, "default", Path(workdir) / "hand_counts.csv")
    return json.loads(json.dumps(workflow.report(ws, "default")))
