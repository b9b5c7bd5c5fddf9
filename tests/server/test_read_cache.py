"""The read path (issue 26): answers computed once per change of the data and served from
memory with ETag/304 and gzip; a change made here is seen at once, one made by another
process within the version interval; the role check and the token check still run on
every request, and a revoked token is refused within the token cache's lifetime."""
import gzip

import polars as pl
import pytest
from sqlalchemy import update

from escrutinio.io import read_snapshots
from escrutinio.server import auth, read_cache
from escrutinio.server.storage import users
from escrutinio.server.storage.db import Database
from escrutinio.server.storage.tables import users as users_table
from escrutinio.server.testing import ServerClient

from server_data import TREP


def _values(snap, unit):
    row = snap.frame.filter(pl.col("unit") == unit).row(0, named=True)
    return {f: int(row[f]) for f in (*snap.choices, "blank", "null", "registered", "emitted")}


def _typists(sc):
    return {"ana": sc.headers("typist", "ana"), "beto": sc.headers("typist", "beto")}


def _enter(sc, typists, snap, units, prefix="x"):
    for u in units:
        for who, h in typists.items():
            r = sc.client.post("/api/v1/entries", headers=h,
                               json={"unit": u, "values": _values(snap, u), "client_id": f"{prefix}-{who}-{u}"})
            assert r.status_code == 200, r.text


def _copies_counted(c) -> int:
    r = c.get("/api/v1/results", params={"source": "copies"})
    assert r.status_code == 200, r.text
    return r.json()["units"]


def _eventually(ok, tries: int = 200) -> bool:
    """A background read of the version may be under way: ask again, a bounded number of
    times (no assertion on how long it takes)."""
    import time

    for _ in range(tries):
        if ok():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def clock(monkeypatch):
    """The read path's and the token cache's clocks, moved by the test instead of sleeping."""
    now = [1000.0]
    monkeypatch.setattr(read_cache, "clock", lambda: now[0])
    monkeypatch.setattr(auth, "clock", lambda: now[0])
    return now


def test_etag_304_and_gzip(server_client, small_computo):
    sc, c = server_client, server_client.client
    sc.load(small_computo)
    plain = c.get("/api/v1/results", params={"level": "department"}, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    etag = plain.headers["etag"]
    assert etag.startswith('"') and plain.headers["cache-control"] == "no-cache"
    assert "accept-encoding" in plain.headers["vary"].lower()
    zipped = c.get("/api/v1/results", params={"level": "department"}, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["etag"] != etag
    assert zipped.json() == plain.json()  # the client decompressed the stored copy
    assert int(zipped.headers["content-length"]) < len(plain.content)
    raw = c.build_request("GET", "/api/v1/results", params={"level": "department"}, headers={"Accept-Encoding": "gzip"})
    r = c.send(raw, stream=True)
    assert gzip.decompress(b"".join(r.iter_raw())) == plain.content  # the stored bytes are gzip
    r.close()
    # the ETag of either copy means "I have it": 304 with no body
    for tag in (etag, zipped.headers["etag"], f"W/{etag}", f'"other", {etag}'):
        again = c.get("/api/v1/results", params={"level": "department"}, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"]
    assert c.get("/api/v1/results", params={"level": "department"}, headers={"If-None-Match": '"other"'}).status_code == 200
    # another view is another answer
    country = c.get("/api/v1/results", headers={"If-None-Match": etag})
    assert country.status_code == 200 and country.headers["etag"] not in (etag, zipped.headers["etag"])
    # errors that follow from the request are kept like answers, and stay errors
    for _ in range(2):
        bad = c.get("/api/v1/results", params={"level": "nowhere"})
        assert bad.status_code in (400, 422) and bad.json()["error"]


def test_a_cached_read_opens_no_transaction(server_client, small_computo, clock):
    sc, c = server_client, server_client.client
    sc.load(small_computo)
    assert c.get("/api/v1/results").status_code == 200
    version, cache = read_cache.state(sc.app)
    misses, reads = cache.misses, version.reads
    opened = []
    real = sc.app.state.db.session

    def counting(*a, **k):
        opened.append(a)
        return real(*a, **k)

    sc.app.state.db.session = counting
    try:
        for _ in range(20):
            assert c.get("/api/v1/results").status_code == 200
        assert opened == [] and cache.misses == misses and version.reads == reads
        clock[0] += 1.0  # past the interval: one read of the version, still no recomputation
        for _ in range(5):
            assert c.get("/api/v1/results").status_code == 200
        assert len(opened) == 1 and version.reads == reads + 1 and cache.misses == misses
    finally:
        sc.app.state.db.session = real


def test_an_entry_or_a_snapshot_made_here_is_seen_at_once(server_client, small_computo):
    sc, c = server_client, server_client.client
    assert c.get("/api/v1/results").status_code == 404  # nothing loaded: kept as an answer...
    sc.load(small_computo)
    assert c.get("/api/v1/results").status_code == 200  # ...until the snapshot arrives
    snap = read_snapshots(small_computo)[0]
    units = snap.frame["unit"].to_list()
    typists = _typists(sc)
    _enter(sc, typists, snap, units[:1])
    assert _copies_counted(c) == 1
    before = c.get("/api/v1/results", params={"source": "copies"})
    _enter(sc, typists, snap, units[1:3])
    after = c.get("/api/v1/results", params={"source": "copies"}, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.json()["units"] == 3
    assert len(c.get("/api/v1/discrepancies").json()) == 0
    # the official count is keyed by the snapshot: entries leave its ETag alone
    official = c.get("/api/v1/results").headers["etag"]
    _enter(sc, typists, snap, units[3:4])
    assert c.get("/api/v1/results", headers={"If-None-Match": official}).status_code == 304


def test_an_entry_made_here_leaves_official_reads_on_the_fast_path(server_client, small_computo, clock):
    """An entry cannot change the official count: after one, this process's answers about
    the official count are still served without a read of the data version (a stream of
    entries took every such read off the fast path), while an answer that reads the
    copies still reads the version again and sees the entry (read your own write)."""
    sc, c = server_client, server_client.client
    sc.load(small_computo)
    snap = read_snapshots(small_computo)[0]
    units = snap.frame["unit"].to_list()
    typists = _typists(sc)
    assert c.get("/api/v1/results").status_code == 200
    assert _copies_counted(c) == 0
    version, cache = read_cache.state(sc.app)
    reads = version.reads
    _enter(sc, typists, snap, units[:1])
    assert c.get("/api/v1/results").status_code == 200
    assert version.reads == reads  # the official answer: no read of the version
    assert _copies_counted(c) == 1 and version.reads == reads + 1  # the copies: read at once
    # any other write may change the official count (a snapshot): read at once, too
    db = sc.app.state.db
    with db.session(write=True):
        pass
    assert version.peek(True) is None and version.peek(False) is None


def test_another_process_write_is_seen_within_the_interval(database_url, tmp_path, small_computo, clock):
    one = ServerClient(database_url, tmp_path / "one")
    two = ServerClient(database_url, tmp_path / "two")  # another worker or instance on the same database
    try:
        assert one.client.get("/api/v1/results").status_code == 404
        two.load(small_computo)
        # within the interval the first process may still answer from memory...
        assert one.client.get("/api/v1/results").status_code == 404
        clock[0] += one.settings.read_version_interval + 0.01
        # ...and past it, the version is read again (by the request or in the background)
        assert _eventually(lambda: one.client.get("/api/v1/results").status_code == 200)
        snap = read_snapshots(small_computo)[0]
        units = snap.frame["unit"].to_list()
        assert _copies_counted(one.client) == 0
        _enter(two, _typists(two), snap, units[:2])
        clock[0] += one.settings.read_version_interval + 0.01
        assert _eventually(lambda: _copies_counted(one.client) == 2)
        d = one.client.get("/api/v1/discrepancies")
        assert d.status_code == 200 and d.json() == []
    finally:
        one.close()
        two.close()


def test_official_upload_of_a_later_export_replaces_the_cached_answer(server_client, small_computo, tmp_path):
    from server_data import head_of

    sc, c = server_client, server_client.client
    trep = head_of(TREP, tmp_path / "trep_2019-10-20T19-40-57.csv.gz", 50)
    sc.load(trep)
    first = c.get("/api/v1/results")
    assert first.status_code == 200
    sc.load(small_computo)  # exported later: in force from now on
    second = c.get("/api/v1/results", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.json() != first.json()


def test_role_and_token_checks_run_on_the_cached_path(server_client, small_computo):
    sc, c = server_client, server_client.client
    sc.load(small_computo)
    for _ in range(3):
        assert c.get("/api/v1/results").status_code == 200  # cached now
    for _ in range(2):
        r = c.get("/api/v1/results", headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/api/v1/results", headers={"Authorization": "Basic abc"}).status_code == 401
        assert c.get("/api/v1/discrepancies", headers={"Authorization": "Bearer nope"}).status_code == 401
    watcher = sc.headers("watcher", "wanda")
    for _ in range(2):  # the second time from the token cache: the role is still checked
        assert c.get("/api/v1/results", headers=watcher).status_code == 200
        assert c.get("/api/v1/entries/pending", headers=watcher).status_code == 403
        assert c.post("/api/v1/discrepancies/explain", headers=watcher,
                      json={"unit": "1", "field": "CC", "note": "n"}).status_code == 403
    assert c.get("/api/v1/entries/pending").status_code == 401


def test_a_revoked_token_is_refused_after_the_cache_lifetime(database_url, tmp_path, clock):
    sc = ServerClient(database_url, tmp_path, token_cache_seconds=5.0)
    try:
        c = sc.client
        token = sc.token("typist", "ana")
        h = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/v1/me", headers=h).status_code == 200
        # revoked by another process (the CLI, another worker): this one trusts its
        # memory for at most token_cache_seconds...
        # (what that process writes, without this process's users module knowing)
        db = Database(sc.url)
        with db.session(write=True) as s:
            s.execute(update(users_table).where(users_table.c.name == "ana").values(active=False))
        db.dispose()
        clock[0] += 4.0
        assert c.get("/api/v1/me", headers=h).status_code == 200
        clock[0] += 1.5
        assert c.get("/api/v1/me", headers=h).status_code == 401
        # revoked through this process's API: refused at once
        admin = sc.headers("admin")
        bob = c.post("/api/v1/users", headers=admin, json={"name": "bob", "role": "typist"}).json()
        hb = {"Authorization": f"Bearer {bob['token']}"}
        assert c.get("/api/v1/me", headers=hb).status_code == 200
        assert c.post(f"/api/v1/users/{bob['id']}/revoke", headers=admin).status_code == 200
        assert c.get("/api/v1/me", headers=hb).status_code == 401
    finally:
        sc.close()


def test_the_token_cache_keeps_hashes_only(database_url, tmp_path):
    sc = ServerClient(database_url, tmp_path)
    try:
        token = sc.token("coordinator", "cora")
        assert sc.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        kept = sc.app.state.token_cache._entries
        assert kept and token not in kept and users.hash_token(token) in kept
        assert all(token not in repr(v) for v in kept.values())
    finally:
        sc.close()


def test_the_fast_path_answers_only_known_urls_and_known_callers(server_client, small_computo, monkeypatch, clock):
    sc, c = server_client, server_client.client
    sc.load(small_computo)
    routed = []  # (the clock stands still: the data version stays fresh throughout)
    real = read_cache.answer

    async def counting(request, *a, **k):
        routed.append(request.url.path)
        return await real(request, *a, **k)

    monkeypatch.setattr(read_cache, "answer", counting)
    first = c.get("/api/v1/results", params={"level": "department"})
    assert first.status_code == 200 and routed == ["/api/v1/results"]
    for _ in range(5):  # the same URL again: from the cache, without the route
        again = c.get("/api/v1/results", params={"level": "department"})
        assert again.status_code == 200 and again.content == first.content
        assert again.headers["x-content-type-options"] == "nosniff"  # the outer middleware still runs
    assert len(routed) == 1
    # a token never verified goes to the route (which verifies it), then it is known
    token = sc.headers("coordinator", "cora")
    assert c.get("/api/v1/results", params={"level": "department"}, headers=token).status_code == 200
    assert len(routed) == 2
    assert c.get("/api/v1/results", params={"level": "department"}, headers=token).status_code == 200
    assert len(routed) == 2
    # a bad one always goes to the route, whose role check refuses it (before the answer)
    bad = {"Authorization": "Bearer forged"}
    assert c.get("/api/v1/results", params={"level": "department"}, headers=bad).status_code == 401
    assert c.get("/api/v1/results", params={"level": "department"}, headers={"Cookie": "escrutinio_token=forged"}).status_code == 401
    # another query string is another URL
    assert c.get("/api/v1/results", params={"level": "province"}).status_code == 200
    assert len(routed) == 3
