"""The entry's write path: what it sends to the database while it holds the writer lock
(every other writer waits meanwhile), and that reading and writing in batches stores the
same rows as before: ids, the results log's and the audit log's chains, the events."""
import json
from contextlib import contextmanager

from sqlalchemy import event, func, select

from escrutinio.observers import double_entry as de
from escrutinio.server.storage import audit_hash, copies, log
from escrutinio.server.storage.db import WRITE_LOCK_KEY
from escrutinio.server.storage.tables import actas, audit_log, entries, events
from escrutinio.publication.entry import entry_hash, make_entry


def _official_values(path, unit: str) -> dict:
    """The acta's values in the official count: a copy that agrees with it (as most do)
    records no difference after the entry."""
    from escrutinio.io import read_snapshots

    snap = read_snapshots(path)[0]
    fields = [*snap.choices, "blank", "null", "registered", "emitted"]
    row = snap.frame.filter(snap.frame["unit"] == unit).select(fields).to_dicts()[0]
    return {f: int(row[f]) for f in fields}


class _RoundTrips:
    """What the write transactions send, from the write lock on, in round trips (lists of
    statements). PostgreSQL (psycopg, on the connection that took the lock): a statement
    sent alone is one round trip, a pipeline is one whatever it holds. SQLite (the write
    engine, which read sessions do not use there): each statement is one call."""

    def __init__(self, db, monkeypatch):
        self.db, self.trips, self.conn, self.pipe = db, [], None, None
        if not db.postgresql:
            event.listen(db.write_engine, "before_cursor_execute", self._sqlite)
            return
        import psycopg

        execute, pipeline, rec = psycopg.Cursor.execute, psycopg.Connection.pipeline, self

        def counted_execute(cur, query, params=None, **kw):
            q = query if isinstance(query, str) else str(query)
            if rec.pipe is not None and cur.connection is rec.pipe[0]:
                rec.pipe[1].append(q)
            else:
                rec._trip(cur.connection, [q])
            return execute(cur, query, params, **kw)

        @contextmanager
        def counted_pipeline(conn):
            rec.pipe = (conn, [])
            try:
                with pipeline(conn) as p:
                    yield p
            finally:
                sent, rec.pipe = rec.pipe[1], None
                rec._trip(conn, sent)

        commit = psycopg.Connection.commit

        def counted_commit(conn):
            if rec.pipe is not None and conn is rec.pipe[0]:
                rec.pipe[1].append("COMMIT")
            elif conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:  # else nothing is sent
                rec._trip(conn, ["COMMIT"])
            return commit(conn)

        monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
        monkeypatch.setattr(psycopg.Connection, "pipeline", counted_pipeline)
        monkeypatch.setattr(psycopg.Connection, "commit", counted_commit)

    def _trip(self, conn, statements: list[str]) -> None:
        if any("pg_advisory_xact_lock" in q for q in statements):
            self.conn = conn
        if conn is self.conn:
            self.trips.append(statements)

    def _sqlite(self, conn, cursor, statement, params, context, many):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            self.trips.append([statement])

    def take(self) -> list[list[str]]:
        out, self.trips, self.conn = self.trips, [], None
        return out

    def close(self):
        if not self.db.postgresql:
            event.remove(self.db.write_engine, "before_cursor_execute", self._sqlite)


def _kind(q: str) -> str:
    q = q.lstrip().upper()
    return ("lock" if "PG_ADVISORY_XACT_LOCK" in q else "commit" if q == "COMMIT" else "read" if q.startswith("SELECT")
            else "write")


def test_an_entry_is_one_round_trip_to_lock_and_read_and_one_to_write(server_client, small_computo, monkeypatch):
    sc = server_client
    sc.load(small_computo)
    db = sc.app.state.db
    unit = "1021"  # the first acta of the file
    values = _official_values(small_computo, unit)
    first, second = sc.headers("typist", "first-typist"), sc.headers("typist", "second-typist")
    rec = _RoundTrips(db, monkeypatch)
    try:
        sent = {}
        for name, headers, cid in (("first", first, "a"), ("second", second, "b"), ("replay", second, "b")):
            r = sc.client.post("/api/v1/entries", json={"unit": unit, "values": values, "client_id": cid}, headers=headers)
            assert r.status_code == 200, r.text
            sent[name] = [[_kind(q) for q in trip] for trip in rec.take()]
    finally:
        rec.close()
    assert r.json()["replayed"] and r.json()["state"] == "agreed"
    if db.postgresql:
        # the lock and one query for the acta, its entries, the client id, both logs' heads
        # and the snapshot; then every row in one statement (none for a replay); COMMIT.
        # (COMMIT in the rows' pipeline, one round trip less under the lock, was tried
        # twice and measured no better: docs/server.md)
        assert sent == {"first": [["lock", "read"], ["write"], ["commit"]],
                        "second": [["lock", "read"], ["write"], ["commit"]],
                        "replay": [["lock", "read"], ["commit"]]}, sent
    else:  # no round trips: still one read, then each row
        assert sent == {"first": [["read"]] + [["write"]] * 4, "second": [["read"]] + [["write"]] * 5,
                        "replay": [["read"]]}, sent


def test_the_lock_sent_with_the_first_read_is_held_to_the_end(database_url):
    """A session opened with lock_with_first_read holds the write lock from its first
    read (sent in one pipeline with it on PostgreSQL) until it ends, and refuses to write
    before it."""
    import pytest
    from sqlalchemy import text

    from escrutinio.server.storage.db import Database, execute_together, locked_read

    db = Database(database_url)
    try:
        with db.session(write=True, lock_with_first_read=True) as s:
            if db.postgresql:
                with pytest.raises(RuntimeError, match="write lock"):
                    execute_together(s, [(events.insert().values(time="t", kind="entry", seq=0, data="{}"), {})])
            row = locked_read(s, select(func.count().label("n")).select_from(entries), {})
            assert row.n == 0
            if db.postgresql:
                pid = s.execute(text("SELECT pg_backend_pid()")).scalar()
                with db.write_engine.connect() as other:
                    held = other.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                              "AND pid = :p"), {"p": pid}).scalar()
                    assert held == 1
                    # another writer waits for it
                    assert other.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY}).scalar() is False
    finally:
        db.dispose()


def test_a_statement_whose_parameters_convert_goes_through_sqlalchemy_under_the_lock(database_url):
    """A parameter of a type that converts its value (JSON here) is never sent to the
    driver as it is: the locked read and the combined write then take SQLAlchemy's
    execution, after the lock."""
    from sqlalchemy import JSON, Text, bindparam, cast, text

    from escrutinio.server.storage.db import Database, execute_together, locked_read

    db = Database(database_url)
    try:
        with db.session(write=True, lock_with_first_read=True) as s:
            row = locked_read(s, select(cast(bindparam("j", type_=JSON), Text).label("j")), {"j": {"a": 1}})
            assert json.loads(row.j) == {"a": 1}
            if db.postgresql:
                assert s.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                      "AND pid = pg_backend_pid()")).scalar() == 1
            ev = events.insert().values(time="t", kind="entry", seq=bindparam("v_seq"), data=cast(bindparam("v_j", type_=JSON), Text))
            execute_together(s, [(ev, {"v_seq": 0, "v_j": {"b": 2}}),
                                 (events.insert().values(time="t", kind="entry", seq=1, data="{}"), {})])
        with db.session() as s:
            data = [json.loads(d) for d in s.execute(select(events.c.data).order_by(events.c.seq)).scalars()]
        assert data == [{"b": 2}, {}]
    finally:
        db.dispose()


def _user(s, name: str, role: str):
    from escrutinio.server.storage.users import add_user

    return add_user(s, name, role)[0]


def test_batched_rows_are_the_rows_one_statement_at_a_time_stored(database_url):
    """Ids, both hash chains and the events' log positions, through every transition,
    a replay, and refusals that the caller's transaction survives (the SMS webhook)."""
    from escrutinio.server.storage.db import Database

    db = Database(database_url)
    check = de.copy_checker(("A", "B"))
    vals = {"A": 3, "B": 4, "blank": 0, "null": 0, "registered": 10, "emitted": 7}
    other = {**vals, "A": 4, "emitted": 8}
    levels = {"department": "X"}
    try:
        with db.session(write=True) as s:
            t1, t2, coord = _user(s, "t1", "typist"), _user(s, "t2", "typist"), _user(s, "c1", "coordinator")
        steps = [("submit", "u1", t1, "c1", vals), ("submit", "u1", t2, "c2", vals),      # agreed (logged)
                 ("submit", "u1", t2, "c2", vals),                                         # replay
                 ("submit", "u2", t1, "c3", vals), ("submit", "u2", t1, "c4", vals),      # same typist: refused
                 ("submit", "u2", t2, "c5", other),                                        # different
                 ("resolve", "u2", coord, None, vals),                                     # resolved (logged)
                 ("submit", "u3", t1, "c6", {**vals, "registered": 2}),
                 ("submit", "u3", t2, "c7", {**vals, "registered": 2}),                    # quarantined
                 ("release", "u3", coord, None, None),                                     # released (logged)
                 ("submit", "u1", t1, "c8", vals)]                                         # closed: refused
        outcomes = []
        for kind, unit, user, cid, v in steps:
            with db.session(write=True) as s:
                try:
                    if kind == "submit":
                        out = copies.submit(s, unit=unit, contest="P", values=v, client_id=cid, user=user, check=check,
                                            levels=levels)
                        outcomes.append((out["entry_id"], out["state"], out["replayed"]))
                    elif kind == "resolve":
                        outcomes.append(copies.resolve(s, unit=unit, contest="P", values=v, user=user, check=check,
                                                       levels=levels, note="read off the photo").state)
                    else:
                        outcomes.append(copies.release(s, unit=unit, contest="P", user=user, levels=levels, note="as is").state)
                except de.EntryError as exc:  # the caller goes on and commits, as the SMS webhook does
                    outcomes.append(type(exc).__name__)
        with db.session() as s:
            # a refused entry leaves no row, though the caller committed its transaction (on
            # PostgreSQL the id it drew from the sequence stays unused)
            rows = s.execute(select(entries.c.id, entries.c.client_id).order_by(entries.c.id)).all()
            assert [r.client_id for r in rows] == ["c1", "c2", "c3", "c5", "c6", "c7"]
            i = {r.client_id: r.id for r in rows}
        assert outcomes == [(i["c1"], "first_entered", False), (i["c2"], "agreed", False), (i["c2"], "agreed", True),
                            (i["c3"], "first_entered", False), "SameTypist", (i["c5"], "different", False), "resolved",
                            (i["c6"], "first_entered", False), (i["c7"], "quarantined", False), "released", "WrongState"]
        with db.session() as s:
            assert {r.unit: r.state for r in s.execute(select(actas.c.unit, actas.c.state))} == {
                "u1": "agreed", "u2": "resolved", "u3": "released"}
            logged = log.entries(s)
            assert [e["kind"] for e in logged] == ["copy_agreed", "copy_resolved", "quarantine_released"]
            prev = "0" * 64
            for e in logged:
                assert e["prev"] == prev and entry_hash(make_entry(e["seq"], e["role"], e["kind"], e["payload"], e["prev"],
                                                                   e["time"])) == e["hash"]
                prev = e["hash"]
            assert logged[0]["payload"] == {"unit": "u1", "contest": "P", "levels": levels, "values": vals, "entry_id": 2}
            assert logged[1]["payload"]["note"] == "read off the photo"
            n, bad, why = audit_hash.verify(s)
            assert bad is None, why
            actions = list(s.execute(select(audit_log.c.action).where(audit_log.c.action != "user_added")
                                     .order_by(audit_log.c.id)).scalars())
            assert actions == ["entry_submitted"] * 4 + ["entry_resolved"] + ["entry_submitted"] * 2 + ["quarantine_released"]
            published = [json.loads(d) for d in s.execute(select(events.c.data).order_by(events.c.id)).scalars()]
            assert [(e["state"], e["seq"]) for e in published] == [
                ("first_entered", -1), ("agreed", 0), ("first_entered", 0), ("different", 0), ("resolved", 1),
                ("first_entered", 1), ("quarantined", 1), ("released", 2)]
    finally:
        db.dispose()


def test_the_acta_checks_run_for_a_second_entry_outside_the_lock_and_not_for_a_first(server_client, small_computo,
                                                                                     monkeypatch):
    """The checks (a one-row frame through every rule) are of the agreed values: a first
    entry does not need them, a second one has them worked out before the lock; if
    another typist's entry lands between the two, they run under the lock instead."""
    from escrutinio.server import services

    sc = server_client
    sc.load(small_computo)
    real = services.checker
    calls: list[tuple] = []

    def counting(snap):
        full = real(snap)
        return lambda v: calls.append(tuple(sorted(v.items()))) or full(v)

    monkeypatch.setattr(services, "checker", counting)
    first, second = sc.headers("typist", "first-typist"), sc.headers("typist", "second-typist")
    unit = "1021"
    values = _official_values(small_computo, unit)

    def enter(headers, cid, unit=unit, values=values):
        r = sc.client.post("/api/v1/entries", json={"unit": unit, "values": values, "client_id": cid}, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["state"]

    assert enter(first, "a") == "first_entered" and calls == []
    assert enter(second, "b") == "agreed" and len(calls) == 1
    # the race: the acta had no entry when this one was prepared, and has one under the lock
    other = "1022"
    other_values = _official_values(small_computo, other)
    monkeypatch.setattr(copies, "entered", lambda *a: False)
    calls.clear()
    assert enter(first, "c", other, other_values) == "first_entered" and calls == []
    assert enter(second, "d", other, other_values) == "agreed" and len(calls) == 1


def test_on_postgresql_an_entry_reads_and_writes_in_one_transaction(server_client, small_computo):
    """What an entry works out before the lock (the snapshot in force, whether the acta has
    an entry, the checks) is read in the write's own transaction, before the lock: one
    connection checkout (and its ping) and one transaction per entry, not two."""
    sc = server_client
    db = sc.app.state.db
    if not db.postgresql:
        return  # SQLite: the reads run in a read session first (the writers' lock covers a write session)
    sc.load(small_computo)
    unit = "1021"
    body = {"unit": unit, "values": _official_values(small_computo, unit), "client_id": "one"}
    headers = sc.headers("typist", "ana")
    assert sc.client.get("/api/v1/entries/pending", headers=headers).status_code == 200  # the token verified, cached
    checkouts, begins = [], []

    def checkout(*a):
        checkouts.append(1)

    def begin(*a):
        begins.append(1)

    event.listen(db.write_engine, "checkout", checkout)
    event.listen(db.write_engine, "begin", begin)
    try:
        r = sc.client.post("/api/v1/entries", json=body, headers=headers)
        assert r.status_code == 200, r.text
    finally:
        event.remove(db.write_engine, "checkout", checkout)
        event.remove(db.write_engine, "begin", begin)
    assert len(checkouts) == 1 and len(begins) == 1, (checkouts, begins)


def test_an_entry_prepared_on_a_stale_snapshot_lands_on_the_one_in_force(server_client, small_computo, tmp_path,
                                                                         monkeypatch):
    """Before the lock an entry uses the snapshot this process knew last, without a query;
    another process may have stored a newer one since. The acta's read under the lock
    finds that out, and the entry is prepared again on the newer snapshot; a unit only
    the newer snapshot holds is not refused on the stale one."""
    from server_data import COMPUTO, head_of

    from escrutinio.server.api import entries as entries_api
    from escrutinio.server.storage import official

    sc = server_client
    sc.load(small_computo)
    headers = sc.headers("typist", "ana")
    assert sc.client.get("/api/v1/results").status_code == 200
    stale = dict(official._last_known)
    assert stale
    (tmp_path / "newer").mkdir()
    bigger = head_of(COMPUTO, tmp_path / "newer" / "computo_2019-10-25.csv.gz", 450)
    sc.load(bigger)
    # as if another process had stored the newer snapshot: this one still knows the old
    monkeypatch.setattr(official, "_last_known", dict(stale))
    prepared_again = []
    real_current = entries_api._Prepared.current
    monkeypatch.setattr(entries_api._Prepared, "current",
                        lambda self, *a: prepared_again.append(1) or real_current(self, *a))
    for unit in ("1021", _unit_at(bigger, 420)):
        body = {"unit": unit, "values": _official_values(bigger, unit), "client_id": f"stale-{unit}"}
        r = sc.client.post("/api/v1/entries", json=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "first_entered"
        monkeypatch.setattr(official, "_last_known", dict(stale))
    assert prepared_again == [1]  # the unit only the newer snapshot holds was prepared on it at once


def _unit_at(path, i: int) -> str:
    from escrutinio.io import read_snapshots

    return read_snapshots(path)[0].frame["unit"][i]
