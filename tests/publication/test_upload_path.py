"""The official upload's fast path (issue 26): payloads checked canonical as Polars
encodes them, the checkpoint signed in the load's transaction, and the static folder
written in the background, atomically, and again when lost."""
import json
import shutil
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings, strategies as st

from escrutinio.publication.checkpoint import generate_key
from escrutinio.publication.entry import canonical_json, parse_canonical
from escrutinio.server.testing import database_url, head_of, server_client  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
COMPUTO = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"

values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                      lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(values)
def test_parse_canonical_agrees_with_canonical_json(v):
    text = canonical_json(v).decode("utf-8")
    assert parse_canonical(text) == (True, v)
    for other in (json.dumps(v, ensure_ascii=True, sort_keys=True),
                  json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":"))):
        assert parse_canonical(other)[0] == (other == text)


def test_parse_canonical_refuses_floats_and_orders_by_utf16():
    assert parse_canonical('{"a":1.0}') == (False, None)
    assert parse_canonical('{"a":NaN}') == (False, None)
    assert parse_canonical('{"b":1,"a":2}') == (False, None)
    # U+1F600 is a surrogate pair in UTF-16 (D83D...), before U+E000 there, after it in code points
    assert parse_canonical('{"\U0001f600":2,"\ue000":1}')[0]
    assert not parse_canonical('{"\ue000":1,"\U0001f600":2}')[0]


def _snapshot(tmp_path):
    from escrutinio.io import read_snapshots

    return read_snapshots(head_of(COMPUTO, tmp_path / "c.csv.gz", 40))[0]


def test_payloads_with_strings_to_escape_are_checked_one_by_one(tmp_path):
    from escrutinio.server.storage import official

    snap = _snapshot(tmp_path)
    odd = 'a"b\\c\x01\x7f\u2028é\U0001f600'
    frame = snap.frame.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit(odd))
                                    .otherwise(pl.col("municipality")).alias("municipality"))
    payloads = official.record_payloads(7, replace(snap, frame=frame))
    for p in payloads:
        assert canonical_json(json.loads(p)).decode("utf-8") == p
    assert json.loads(payloads[3])["levels"]["municipality"] == odd


def test_a_payload_that_is_not_canonical_is_refused(tmp_path):
    from escrutinio.server.storage import official

    snap = _snapshot(tmp_path)
    cols = official._sorted([*official.VALUE_TOTALS, *snap.choices])
    good = pl.Series(official.record_payloads(7, snap))
    bad = good.str.replace('"unit":', '"unit" :', literal=True, n=1)
    with pytest.raises(official.NotCanonical, match="not canonical JSON"):
        official._check_canonical(snap, cols, 7, bad)
    swapped = pl.Series([good[0].replace('"blank":', '"zzz":', 1)] + good.to_list()[1:])
    with pytest.raises(official.NotCanonical):
        official._check_canonical(snap, cols, 7, swapped)


def _folders(sc) -> list[Path]:
    root = Path(sc.settings.data_dir) / "publication"
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()) if root.exists() else []


def test_load_signs_in_its_transaction_and_publishes_in_the_background(server_client, tmp_path):
    from click.testing import CliRunner

    from escrutinio.cli import main
    from escrutinio.server import checkpointing

    sc = server_client
    generate_key(sc.settings.signing_key)
    out = sc.load(head_of(COMPUTO, tmp_path / "computo_2019-10-25.csv.gz", 150))
    assert out["checkpoint"]["signed"] and out["checkpoint"]["checkpoint"]["tree_size"] == 151
    assert checkpointing.wait_published(120)
    folders = _folders(sc)
    assert [p.name for p in folders] == ["000000000151"]
    # compact JSON, the same document the API serves
    doc = (folders[0] / "results" / "PRESIDENTE" / "official-department.json").read_text()
    assert "\n " not in doc and json.loads(doc)["contest"] == "PRESIDENTE"
    r = CliRunner().invoke(main, ["verify-log", str(folders[0].parent), "--public-key",
                                  str(sc.settings.signing_key) + ".pub"])
    assert r.exit_code == 0, r.output

    # lost (a crash before it was written, a wiped disk): written again at the next
    # maybe_sign, which the server's checkpoint loop calls an interval after start-up;
    # a half-written folder left by a crash is removed
    shutil.rmtree(folders[0])
    (folders[0].parent / ".000000000151.1.2.tmp").mkdir()
    with sc.app.state.db.session(write=True) as s:
        assert checkpointing.maybe_sign(s, sc.settings)["reason"] == "no new entries since the last checkpoint"
    assert checkpointing.wait_published(120)
    assert [p.name for p in _folders(sc)] == ["000000000151"]
    assert not list(folders[0].parent.glob(".*.tmp"))
    r = CliRunner().invoke(main, ["verify-log", str(folders[0].parent)])
    assert r.exit_code == 0, r.output


def test_a_signing_failure_does_not_undo_the_load(server_client, tmp_path):
    sc = server_client
    key = Path(sc.settings.signing_key)
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("not a key")
    out = sc.load(head_of(COMPUTO, tmp_path / "computo_2019-10-25.csv.gz", 30))
    assert out["created"] and out["checkpoint"]["signed"] is False and out["checkpoint"]["error"]
    snaps = sc.client.get("/api/v1/snapshots", headers=sc.headers("reader")).json()
    assert [s["snapshot_id"] for s in snaps] == [out["snapshot_id"]]
    lines = sc.client.get("/api/v1/log").text.splitlines()
    assert len(lines) == 31


def test_a_load_onto_a_log_with_a_gap_is_stored_and_not_signed(server_client, tmp_path):
    from sqlalchemy import text

    sc = server_client
    generate_key(sc.settings.signing_key)
    sc.load(head_of(COMPUTO, tmp_path / "computo_2019-10-25.csv.gz", 20))
    db = sc.app.state.db
    with db.session(write=True) as s:  # someone with database access deletes an entry
        if db.postgresql:
            s.execute(text("ALTER TABLE log_entries DISABLE TRIGGER USER"))
        else:
            for (name,) in s.execute(text("SELECT name FROM sqlite_master WHERE type='trigger' "
                                          "AND tbl_name='log_entries'")):
                s.execute(text(f'DROP TRIGGER "{name}"'))
        s.execute(text("DELETE FROM log_entries WHERE seq = 5"))
        if db.postgresql:
            s.execute(text("ALTER TABLE log_entries ENABLE TRIGGER USER"))
    trep = ROOT / "examples/bolivia/2019/trep_2019-10-20T19-40-57.csv.gz"
    out = sc.load(head_of(trep, tmp_path / "trep_2019-10-20T19-40-57.csv.gz", 50))
    assert out["created"] and out["checkpoint"]["signed"] is False, out
    assert "entry 5" in out["checkpoint"]["reason"], out["checkpoint"]


def test_a_lost_folder_is_written_again_at_start_up(server_client, tmp_path):
    from escrutinio.server import checkpointing
    from escrutinio.server.app import create_app
    from escrutinio.server.inprocess import test_client_class

    sc = server_client
    generate_key(sc.settings.signing_key)
    sc.load(head_of(COMPUTO, tmp_path / "computo_2019-10-25.csv.gz", 25))
    assert checkpointing.wait_published(120)
    shutil.rmtree(_folders(sc)[0])
    app = create_app(sc.settings)  # a restarted server on the same database and data folder
    with test_client_class()(app) as client:
        assert client.get("/openapi.json").status_code == 200
        assert checkpointing.wait_published(120)
    app.state.db.dispose()
    assert [p.name for p in _folders(sc)] == ["000000000026"]
