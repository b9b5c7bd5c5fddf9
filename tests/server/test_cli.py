"""`escrutinio server init`, `server user add` (the token alone on stdout), `server demo`."""
import re

import pytest

from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.server.storage import users
from escrutinio.server.storage.db import Database


def test_init_and_user_add_print_the_token_alone(database_url):
    runner = CliRunner()
    r = runner.invoke(main, ["server", "init", "--database", database_url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["server", "user", "add", "ana", "--role", "typist", "--database", database_url])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token) and r.stdout == token + "\n"
    db = Database(database_url)
    with db.session() as s:
        assert users.by_token(s, token).name == "ana"
    db.dispose()
    r = runner.invoke(main, ["server", "user", "add", "ana", "--role", "typist", "--database", database_url])
    assert r.exit_code != 0 and "already exists" in r.output
    r = runner.invoke(main, ["server", "user", "add", "x", "--role", "king", "--database", database_url])
    assert r.exit_code != 0


def test_tokens_are_stored_hashed(database_url):
    from sqlalchemy import text

    db = Database(database_url)
    with db.session(write=True) as s:
        _, token = users.add_user(s, "beto", "coordinator")
    with db.session() as s:
        stored = s.execute(text("SELECT token_hash FROM users")).scalars().all()
    db.dispose()
    assert token not in stored and users.hash_token(token) in stored


def test_demo_runs_through_the_api(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    r = CliRunner().invoke(main, ["server", "demo", "--database", url, "--actas", "60", "--no-projection"])
    assert r.exit_code == 0, r.output
    assert "Discrepancies between counted copies and the official count" in r.output
    assert "Provisional, 83.8% of tables counted" in r.output
    # a second run adds nothing: same files, same client ids
    again = CliRunner().invoke(main, ["server", "demo", "--database", url, "--actas", "60", "--no-projection"])
    assert again.exit_code == 0 and "already loaded" in again.output


def test_serve_refuses_a_bad_places_file_before_touching_the_database(tmp_path):
    import gzip

    bad = tmp_path / "places.csv.gz"
    bad.write_bytes(gzip.compress(b"A,B\n1,2\n"))
    db = tmp_path / "escrutinio.db"
    r = CliRunner().invoke(main, ["serve", "--database", f"sqlite:///{db}", "--places", str(bad)])
    assert r.exit_code == 2 and "needs a place id column (ID_RECI or place_id)" in r.output
    assert str(bad) in r.output and "Traceback" not in r.output and not db.exists()


def test_serve_refuses_a_previous_file_its_mapping_cannot_read(tmp_path):
    from pathlib import Path

    previous = Path(__file__).parents[2] / "examples" / "bolivia" / "2019" / "mesas_2019_linked.csv.gz"
    db = tmp_path / "escrutinio.db"
    r = CliRunner().invoke(main, ["serve", "--database", f"sqlite:///{db}", "--previous", str(previous),
                                  "--previous-mapping", "bolivia-2020-oep"])
    assert r.exit_code == 2 and "Traceback" not in r.output and not db.exists(), r.output


@pytest.mark.parametrize("overrides, said", [
    ('{"write_thread": 3}', "unknown settings ['write_thread']"),
    ("{bad json", "is not JSON"),
    ("[1]", "must be a JSON object"),
    ('{"write_threads": 0}', "write_threads must be a whole number from 1 to 64"),
])
def test_serve_says_a_bad_settings_override_in_one_line_before_starting(tmp_path, overrides, said):
    """A careless admin's ESCRUTINIO_SETTINGS_OVERRIDES: one line, exit 2, no worker started."""
    r = CliRunner().invoke(main, ["serve", "--database", f"sqlite:///{tmp_path / 'e.db'}", "--port", "1"],
                           env={"ESCRUTINIO_SETTINGS_OVERRIDES": overrides})
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and said in lines[0] and "Traceback" not in r.output, r.output


def test_serve_writes_no_access_log_unless_asked(tmp_path, monkeypatch):
    """A line per request costs a fifth to a third of the cached reads' throughput; the
    proxy logs requests. --access-log turns it on."""
    import uvicorn

    from escrutinio.cli import readiness

    seen = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.append(k))
    monkeypatch.setattr(readiness, "announce_when_ready", lambda *a, **k: None)  # nothing to wait for
    for extra, want in (([], False), (["--access-log"], True)):
        r = CliRunner().invoke(main, ["serve", "--database", f"sqlite:///{tmp_path / 'e.db'}", "--port", "1", *extra])
        assert r.exit_code == 0, r.output
        assert seen[-1]["access_log"] is want
