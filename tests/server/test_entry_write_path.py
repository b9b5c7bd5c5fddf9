"""The entry's write path: what it sends to the database while it holds the writer lock
(every other writer waits meanwhile), and that reading and writing in batches stores the
same rows as before: ids, the results log's and the audit log's chains, the events."""
import json

from sqlalchemy import event, select

from escrutinio.observers import double_entry as de
from escrutinio.server.storage import audit_hash, copies, log
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


class _Recorder:
    """The statements of the write transactions: on PostgreSQL those sent on the
    connection that took the advisory lock, from the lock on; on SQLite those of the
    write engine (read sessions have an engine of their own there)."""

    def __init__(self, db):
        self.db, self.conn, self.seen = db, None, []
        event.listen(db.write_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, params, context, many):
        if not self.db.postgresql:
            if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
                self.seen.append(statement)
        elif "pg_advisory_xact_lock" in statement:
            self.conn = conn.connection.dbapi_connection
        elif conn.connection.dbapi_connection is self.conn:
            self.seen.append(statement)

    def take(self) -> list[str]:
        out, self.seen, self.conn = self.seen, [], None
        return out

    def close(self):
        event.remove(self.db.write_engine, "before_cursor_execute", self._seen)


def test_an_entry_reads_once_and_writes_once_under_the_write_lock(server_client, small_computo):
    sc = server_client
    sc.load(small_computo)
    db = sc.app.state.db
    unit = "1021"  # the first acta of the file
    values = _official_values(small_computo, unit)
    first, second = sc.headers("typist", "first-typist"), sc.headers("typist", "second-typist")
    rec = _Recorder(db)
    try:
        sent = {}
        for name, headers, cid in (("first", first, "a"), ("second", second, "b"), ("replay", second, "b")):
            r = sc.client.post("/api/v1/entries", json={"unit": unit, "values": values, "client_id": cid}, headers=headers)
            assert r.status_code == 200, r.text
            sent[name] = rec.take()
    finally:
        rec.close()
    assert r.json()["replayed"] and r.json()["state"] == "agreed"
    for name, stmts in sent.items():
        selects = [s for s in stmts if s.lstrip().upper().startswith("SELECT")]
        writes = [s for s in stmts if not s.lstrip().upper().startswith("SELECT")]
        # one query for the acta, its entries, the client id, both logs' heads and the snapshot
        assert len(selects) == 1, (name, stmts)
        if db.postgresql:  # and one statement for every row written (none for a replay)
            assert len(writes) == (0 if name == "replay" else 1), (name, stmts)
        else:
            assert len(writes) == {"first": 4, "second": 5, "replay": 0}[name], (name, stmts)


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
        assert outcomes == [(1, "first_entered", False), (2, "agreed", False), (2, "agreed", True),
                            (3, "first_entered", False), "SameTypist", (5, "different", False), "resolved",
                            (6, "first_entered", False), (7, "quarantined", False), "released", "WrongState"]
        with db.session() as s:
            # a refused entry keeps the id it took and its row (as when the row was inserted first)
            rows = s.execute(select(entries.c.id, entries.c.client_id).order_by(entries.c.id)).all()
            assert [tuple(r) for r in rows] == [(i, f"c{i}") for i in range(1, 9)]
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
