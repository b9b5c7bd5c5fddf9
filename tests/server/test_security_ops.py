"""Issue 23, operations: no database password in argv, private SQLite file and signing
key (not next to the public publication/ folder), interrupted uploads removed at start."""
import os
import stat
from pathlib import Path

from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.server.settings import Settings
from escrutinio.server.testing import postgres_base, require_postgres


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_a_password_on_the_command_line_is_refused_but_a_file_or_the_environment_work(tmp_path):
    require_postgres()
    runner = CliRunner()
    base = postgres_base()  # trust auth: a password is accepted and ignored
    with_password = base.replace("postgresql://postgres@", "postgresql://postgres:s3cret@")
    assert "s3cret" in with_password
    r = runner.invoke(main, ["server", "init", "--database", with_password])
    assert r.exit_code == 2 and "ps" in r.output and "s3cret" not in r.output
    secret = tmp_path / "db-url"
    secret.write_text(with_password + "\n")
    secret.chmod(0o600)
    r = runner.invoke(main, ["server", "init", "--database", f"@{secret}"])
    assert r.exit_code == 0, r.output
    assert "s3cret" not in r.output
    r = runner.invoke(main, ["server", "init"], env={"ESCRUTINIO_DATABASE": with_password})
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["server", "init"], env={"ESCRUTINIO_DATABASE_FILE": str(secret)})
    assert r.exit_code == 0, r.output


def test_the_sqlite_file_is_private(tmp_path):
    db = tmp_path / "e.db"
    old = os.umask(0o022)
    try:
        r = CliRunner().invoke(main, ["server", "init", "--database", f"sqlite:///{db}"])
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert _mode(db) == 0o600
    for extra in (db.with_name("e.db-wal"), db.with_name("e.db-shm")):
        if extra.exists():
            assert _mode(extra) & 0o077 == 0
    # an existing world-readable file is tightened
    db.chmod(0o644)
    CliRunner().invoke(main, ["server", "init", "--database", f"sqlite:///{db}"])
    assert _mode(db) == 0o600


def test_the_default_signing_key_is_private_and_not_beside_the_publication(tmp_path):
    from escrutinio.cli.server import _ensure_signing_key

    for settings in (Settings(database_url=f"sqlite:///{tmp_path / 'e.db'}"),
                     Settings(database_url="postgresql://postgres@127.0.0.1/test", data_dir=tmp_path / "pg-data")):
        key = Path(settings.signing_key)
        publication = Path(settings.data_dir) / "publication"
        assert publication.parent not in key.parents and key.parent != publication.parent
        assert Path(settings.data_dir) not in key.parents
        said = []
        _ensure_signing_key(settings, said.append)
        assert _mode(key) == 0o600 and _mode(key.parent) == 0o700


def test_serve_removes_interrupted_uploads(tmp_path, monkeypatch):
    import uvicorn

    data = tmp_path / "data"
    (data / "upload-crashed").mkdir(parents=True)
    (data / "upload-crashed" / "computo.csv").write_bytes(b"x" * 100)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setenv("ESCRUTINIO_SETTINGS", "{}")  # serve sets it for its workers
    r = CliRunner().invoke(main, ["serve", "--database", f"sqlite:///{tmp_path / 'e.db'}", "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert not (data / "upload-crashed").exists() and "interrupted upload" in r.output
