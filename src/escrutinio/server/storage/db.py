"""Engines, sessions, migrations and the write lock.

SQLite (the embedded default) runs in WAL mode: readers never block the writer. Write
sessions start with ``BEGIN IMMEDIATE`` so that two writers queue on the database lock
instead of failing half-way; read sessions start a plain deferred transaction.
PostgreSQL write transactions take one advisory transaction lock, which serialises
writers exactly where the log's hash chain and the double-entry states need it.
"""
from __future__ import annotations

import functools
import re
import threading
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator, Sequence, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from escrutinio.errors import EscrutinioError, UsageError
from escrutinio.server.settings import normalise_url

#: pg_advisory_xact_lock key of the server's single writer lock ("escrutin" in ASCII)
WRITE_LOCK_KEY = 0x657363727574696E
APPEND_ONLY_TABLES = ("log_entries", "checkpoints", "audit_log")
BUSY_TIMEOUT_MS = 120_000
T = TypeVar("T")


class SchemaError(EscrutinioError, RuntimeError):
    """The database is missing its schema or its append-only guards."""


class DatabaseError(UsageError):
    """A database URL that names no usable database (a one-line error, not a traceback)."""


URL_HELP = "use sqlite:///FILE (embedded) or postgresql://USER@HOST/DB"


def check_url(url: str, must_exist: bool = False) -> str:
    """The normalised URL, or a one-line :class:`DatabaseError` for a URL that is not a
    database URL, names an engine other than SQLite or PostgreSQL, or (``must_exist``)
    names an SQLite file that is not there: a command that only uses a database must not
    leave an empty file behind."""
    from sqlalchemy.exc import ArgumentError

    shown = str(url)
    try:
        parsed = make_url(normalise_url(shown))
        backend = parsed.get_backend_name()
    except (ArgumentError, ValueError) as exc:
        raise DatabaseError(f"--database {shown!r} is not a database URL: {URL_HELP}") from exc
    safe = parsed.render_as_string(hide_password=True)
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseError(f"unsupported database {backend!r} in {safe}: {URL_HELP}")
    try:
        parsed.get_dialect()
    except Exception as exc:  # an unknown driver, e.g. postgresql+nope://
        raise DatabaseError(f"cannot use {safe}: {str(exc).splitlines()[0]}; {URL_HELP}") from exc
    if backend == "sqlite" and must_exist and parsed.database and parsed.database != ":memory:":
        if not Path(parsed.database).is_file():
            raise DatabaseError(f"no database at {parsed.database}: create it with "
                                f"`escrutinio server init --database {safe}`")
    return normalise_url(shown)


@contextmanager
def connection_errors(url: str) -> Iterator[None]:
    """A database that cannot be reached (a PostgreSQL database that does not exist, a
    refused connection, an unreadable SQLite file) as one line naming the database."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as exc:
        detail = str(exc.orig or exc).strip().splitlines()
        safe = make_url(normalise_url(url)).render_as_string(hide_password=True).replace("postgresql+psycopg://", "postgresql://")
        raise DatabaseError(f"cannot open the database {safe}: {detail[0] if detail else type(exc).__name__}") from exc


def probe(engine: Engine, url: str) -> None:
    """Connect once, so that an unreachable database is said as such (and not, say, as a
    missing schema)."""
    with connection_errors(url):
        engine.connect().close()


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, record):  # pragma: no cover - driver callback
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # pragma: no cover - driver callback
        conn.exec_driver_sql(begin)

    return engine


def private_sqlite_file(path: Path) -> None:
    """Create the database file readable by its owner only (0600; SQLite gives its
    -wal and -shm files the same mode), or tighten an existing one."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if p.exists() and p.stat().st_mode & 0o077:
                os.chmod(p, 0o600)
        except OSError:  # not ours to change: the server still runs, as it did before
            pass


class Database:
    """One server's database: a read and a write session factory over one URL."""

    def __init__(self, url: str, pool_size: int = 10):
        self.url = check_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                private_sqlite_file(Path(parsed.database))
            self.write_engine = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(self.url, "BEGIN")
        elif self.dialect == "postgresql":
            self.write_engine = create_engine(self.url, pool_size=pool_size, max_overflow=2 * pool_size, pool_pre_ping=True)
            self.read_engine = self.write_engine
        else:
            raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///FILE or postgresql://...")
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        #: write transactions committed through this object: the read cache re-reads the
        #: data version at once after one (a writer reads its own write), and otherwise
        #: only every ``read_version_interval`` (others' writes: within that time)
        self.writes = 0
        #: of these, the ones that may have changed the official count (every write but
        #: those opened with ``official_unchanged``): answers about the official count
        #: alone re-read the data version only after one of these, so a stream of entries
        #: does not take every read off the fast path
        self.official_writes = 0
        self._writer = threading.Lock()

    @property
    def postgresql(self) -> bool:
        return self.dialect == "postgresql"

    def sessionmaker(self, write: bool) -> sessionmaker:
        return self._write if write else self._read

    @contextmanager
    def writer(self) -> Iterator[None]:
        """On SQLite, one write transaction at a time per process, queued on a lock that
        wakes the next writer at once: SQLite's own busy handler sleeps 1 to 100 ms
        between tries, which made the typists' p99 ten times their p50. Other processes
        still queue on BEGIN IMMEDIATE. On PostgreSQL the advisory lock queues them."""
        if self.dialect != "sqlite":
            yield
            return
        got = self._writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            yield  # (not got: SQLite's busy timeout decides, as it did before)
        finally:
            if got:
                self._writer.release()

    @contextmanager
    def session(self, write: bool = False, lock_with_first_read: bool = False,
                official_unchanged: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.
        ``lock_with_first_read``: on PostgreSQL the write lock is not taken at once but
        by the caller's first statement, :func:`locked_read`, which sends the lock and
        the query together (one round trip less while every other writer waits); the
        caller must not write before it (:func:`execute_together` checks).
        ``official_unchanged``: the transaction writes no official snapshot (entries,
        resolutions, releases), so this process's answers about the official count stay
        current after it."""
        if write:
            with self.writer():
                with self._session(True, lock=not lock_with_first_read) as s:
                    yield s
            self.writes += 1
            if not official_unchanged:
                self.official_writes += 1
        else:
            with self._session(False) as s:
                yield s

    @contextmanager
    def read_then_write(self, read: Callable[[Session], T], **write_kw) -> Iterator[tuple[T, Session]]:
        """``read(session)`` (what a write works out before the write lock), then a write
        session (``write_kw`` as for :meth:`session`). On PostgreSQL, with
        ``lock_with_first_read``, both in one transaction: the reads go before the lock,
        which the first locked read takes, and a connection checkout (with its ping) and a
        transaction's round trips are saved. Otherwise (SQLite, whose writers of a process
        queue on one lock for the whole write session) the reads run in a read session first."""
        if self.postgresql and write_kw.get("lock_with_first_read"):
            with self.session(write=True, **write_kw) as s:
                yield read(s), s
            return
        with self.session() as s:
            value = read(s)
        with self.session(write=True, **write_kw) as s:
            yield value, s

    @contextmanager
    def _session(self, write: bool, lock: bool = True) -> Iterator[Session]:
        s = self.sessionmaker(write)()
        try:
            if write and lock:
                write_lock(s)
            yield s
            if s.in_transaction():  # a route may have committed its own work already
                s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()

    def check_schema(self) -> None:
        """Refuse to serve a database that is not at the latest migration, whose
        append-only triggers are gone, or whose audit log's hash chain is broken
        (checked at startup)."""
        probe(self.read_engine, self.url)
        with self.session() as s:
            try:
                current = s.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except Exception as exc:
                raise SchemaError(f"{self.safe_url()} has no escrutinio schema: run `escrutinio server init --database URL` first") from exc
            if current != head_revision():
                raise SchemaError(f"{self.safe_url()} is at migration {current}, this server needs {head_revision()}: "
                                  "run `escrutinio server init` to upgrade")
            problems = append_only_problems(s, self.postgresql)
            if problems:
                raise SchemaError("append-only triggers changed or missing, the results log is not protected: " + "; ".join(problems))
            # the triggers can be lifted and put back: the audit log's chain shows a rewrite
            from escrutinio.server.storage import audit_hash

            _, bad, why = audit_hash.verify(s)
            if bad is not None:
                raise SchemaError(f"the audit log was altered at row {bad}: {why}; keep this database as evidence "
                                  "and verify the results log (escrutinio verify-log) before serving from it")

    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


#: the append-only guard as migrations 0001 and 0002 create it: the start-up check
#: compares the stored definitions with these, so that a trigger whose body was
#: replaced (``SELECT 1``) or that was disabled is noticed, not only a missing name
APPEND_ONLY_KEYS = {"log_entries": "seq", "checkpoints": "id", "audit_log": "id",
                    # the field reports' evidence (migration 0004): watchers' messages and photo flags
                    "sms_messages": "id", "photo_flags": "id"}
PG_FUNCTION_BODY = "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END;"


def _sqlite_triggers() -> dict[str, str]:
    out = {}
    for table, key in APPEND_ONLY_KEYS.items():
        for action in ("UPDATE", "DELETE"):
            out[f"{table}_no_{action.lower()}"] = (f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                                                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        out[f"{table}_no_replace"] = (f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                                      f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key}) "
                                      f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    return out


def _pg_triggers() -> dict[str, str]:
    out = {}
    for table in APPEND_ONLY_KEYS:
        out[f"{table}_append_only"] = (f"CREATE TRIGGER {table}_append_only BEFORE DELETE OR UPDATE ON {table} "
                                       "FOR EACH ROW EXECUTE FUNCTION escrutinio_append_only()")
        out[f"{table}_no_truncate"] = (f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                                       "FOR EACH STATEMENT EXECUTE FUNCTION escrutinio_append_only()")
    return out


def _squash(sql: str | None) -> str:
    return re.sub(r"\s+", " ", (sql or "")).strip().rstrip(";")


def append_only_problems(session: Session, postgresql: bool) -> list[str]:
    """What is wrong with the append-only triggers (empty when they are as the
    migrations made them, and enabled)."""
    problems = []
    if postgresql:
        found = {r.tgname: r for r in session.execute(text(
            "SELECT t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) AS def FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = to_regnamespace(current_schema())::oid "
            "AND NOT t.tgisinternal"))}
        for name, expected in _pg_triggers().items():
            row = found.get(name)
            if row is None:
                problems.append(f"trigger {name} is missing")
                continue
            # pg_get_triggerdef qualifies names with the schema: compare without it
            got = _squash(row[2])
            got = re.sub(r"\b\w+\.(?=\w)", "", got) if "." in got else got
            if got != _squash(expected):
                problems.append(f"trigger {name} is not the migration's ({got})")
            enabled = row.tgenabled.decode() if isinstance(row.tgenabled, bytes) else str(row.tgenabled)
            if enabled != "A":
                problems.append(f"trigger {name} is {'disabled' if enabled == 'D' else 'not enabled always (' + enabled + ')'}")
        body = session.execute(text(
            "SELECT p.prosrc FROM pg_proc p WHERE p.proname = 'escrutinio_append_only' "
            "AND p.pronamespace = to_regnamespace(current_schema())::oid")).scalar()
        if body is None:
            problems.append("function escrutinio_append_only is missing")
        elif _squash(body) != _squash(PG_FUNCTION_BODY):
            problems.append(f"function escrutinio_append_only was changed ({_squash(body)[:80]})")
    else:
        found = dict(session.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all())
        for name, expected in _sqlite_triggers().items():
            if name not in found:
                problems.append(f"trigger {name} is missing")
            elif _squash(found[name]) != _squash(expected):
                problems.append(f"trigger {name} is not the migration's ({_squash(found[name])[:120]})")
    return problems


def write_lock(session: Session) -> None:
    """Serialise writers (PostgreSQL: advisory transaction lock; SQLite: the write
    session's BEGIN IMMEDIATE already holds the database's write lock)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # taken once per transaction: the entry path asked for it four times (session,
        # copies, log, audit), three round trips made while every other writer waits
        if _holds_lock(session):
            return
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
        session.info["write_locked"] = session.get_transaction()


def _holds_lock(session: Session) -> bool:
    tx = session.get_transaction()
    return tx is not None and session.info.get("write_locked") is tx


LOCK_SQL = "SELECT pg_advisory_xact_lock(%(k)s)"


def locked_read(session: Session, stmt, params: dict):
    """Take the write lock, unless this transaction holds it, and run the query
    ``stmt`` (one row, or None). On PostgreSQL, when the lock is taken here, both go in
    one pipeline: the server runs the query as soon as it grants the lock, with a
    snapshot taken after it (as for any statement after the lock), instead of waiting
    for this process to hear of the lock and send the query (a wake-up of a thread that
    may wait for the GIL, while every other writer waits for the lock). The row then
    comes as a namespace of the query's column labels, else as SQLAlchemy's row."""
    direct = None
    if session.get_bind().dialect.name == "postgresql" and not _holds_lock(session):
        direct = _to_driver(session, stmt)
    if direct is None:
        write_lock(session)
        return session.execute(stmt, params).first()
    raw, compiled = direct
    with raw.pipeline():
        raw.execute(LOCK_SQL, {"k": WRITE_LOCK_KEY})
        cur = raw.execute(compiled.string, compiled.construct_params(params))
    session.info["write_locked"] = session.get_transaction()
    row = cur.fetchone()
    if row is None:
        return None
    names = _LABELS.get(compiled.string)
    if names is None:
        # psycopg builds a Column per field of the description on every call (a fifth of
        # this read's CPU with the acta's 32 columns); a statement's labels do not change
        names = _LABELS[compiled.string] = tuple(d.name for d in cur.description)
    return SimpleNamespace(**dict(zip(names, row)))


_LABELS: dict[str, tuple[str, ...]] = {}


def _to_driver(session: Session, stmt):
    """(the driver's connection, ``stmt`` compiled) to send ``stmt`` past SQLAlchemy's
    execution, or None when a parameter's type converts its value on the way (as JSON or
    Enum types would), which only SQLAlchemy's execution does."""
    conn = session.connection()
    compiled, plain = _compiled(stmt, conn.dialect)
    return (conn.connection.driver_connection, compiled) if plain else None


@functools.lru_cache(maxsize=64)
def _compiled(stmt, dialect):
    """``stmt`` compiled for ``dialect``, and whether its parameters go to the driver as
    they are."""
    compiled = stmt.compile(dialect=dialect)
    # the dialect's own implementation of each type: the generic JSON converts nothing,
    # psycopg's wraps the value
    return compiled, all(b.type.dialect_impl(dialect).bind_processor(dialect) is None for b in compiled.binds.values())


def execute_together(session: Session, statements: Sequence[tuple]) -> None:
    """Run independent INSERT and UPDATE statements (none reads what another writes, so
    their order does not matter), given as (statement, parameters) with distinct
    parameter names, in the caller's transaction. On PostgreSQL they go as one
    statement, the first ones as data-modifying WITH clauses of the last: one round trip
    where there were one per statement, each made while every other writer waited on
    the write lock. The triggers and constraints apply to each as they would alone.
    SQLite has no data-modifying WITH and no round trips: one after the other."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and not _holds_lock(session):  # a session opened with lock_with_first_read, before it
        raise RuntimeError("write without the write lock")
    if not postgresql or len(statements) == 1:
        for stmt, params in statements:
            session.execute(stmt, params)
        return
    params: dict = {}
    for _, p in statements:
        params.update(p)
    stmt = _together(tuple(stmt for stmt, _ in statements))
    direct = _to_driver(session, stmt)
    if direct is None:
        session.execute(stmt, params)
        return
    # straight to the driver, as the locked read: SQLAlchemy's execution (a cache key
    # walked over the whole combined statement, a result set up for nothing) was most of
    # this write's CPU, spent while every other writer waits on the lock
    raw, compiled = direct
    raw.execute(compiled.string, compiled.construct_params(params))


@functools.lru_cache(maxsize=256)
def _together(statements: tuple):
    # keyed by the statements themselves: callers pass statements built once, so that
    # the combined one is built (and compiled) once per shape too
    *first, last = statements
    return last.add_cte(*(stmt.cte(f"w{i}") for i, stmt in enumerate(first)))


def _alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("escrutinio.server") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()


def migrate(url: str) -> str:
    """Create or upgrade the schema to the latest migration; returns the revision."""
    from alembic import command

    url = check_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        private_sqlite_file(Path(parsed.database))
    engine = create_engine(url)
    try:
        probe(engine, url)
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            cfg = _alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()
    return head_revision()
