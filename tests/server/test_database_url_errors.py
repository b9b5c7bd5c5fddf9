"""Bad --database URLs are one-line errors, not tracebacks (issue 28)."""
from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.server.storage.db import DatabaseError, check_url
from escrutinio.server.testing import postgres_base, require_postgres


def _run(args, **kw):
    result = CliRunner().invoke(main, args, **kw)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("args,message", [
    (["server", "init", "--database", "garbage"], "is not a database URL"),
    (["server", "init", "--database", "mysql://u@localhost/db"], "unsupported database 'mysql'"),
    (["server", "user", "add", "bob", "--role", "typist", "--database", "mysql://u@localhost/db"],
     "unsupported database 'mysql'"),
    (["serve", "--database", "mysql://u@localhost/db", "--port", "0"], "unsupported database 'mysql'"),
    (["serve", "--database", "garbage", "--port", "0"], "is not a database URL"),
])
def test_bad_urls_are_one_line_errors(args, message):
    r = _run(args)
    assert r.exit_code == 2
    assert message in r.output
    assert len([line for line in r.output.splitlines() if line.strip()]) == 1


def test_user_add_on_a_missing_sqlite_file_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _run(["server", "user", "add", "bob", "--role", "typist", "--database", "sqlite:///missing.db"])
    assert r.exit_code == 2
    assert "no database at missing.db" in r.output and "server init" in r.output
    assert list(tmp_path.iterdir()) == []


def test_user_add_on_a_database_without_schema(tmp_path):
    import sqlite3

    sqlite3.connect(tmp_path / "bare.db").close()
    r = _run(["server", "user", "add", "bob", "--role", "typist", "--database", f"sqlite:///{tmp_path}/bare.db"])
    assert r.exit_code == 2 and "has no escrutinio schema" in r.output


def test_check_url_keeps_good_urls():
    assert check_url("sqlite:///x.db") == "sqlite:///x.db"
    assert check_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(DatabaseError, match="not a database URL"):
        check_url("")


def test_a_postgresql_database_that_does_not_exist():
    require_postgres()
    base = postgres_base().rsplit("/", 1)[0]
    url = f"{base}/escrutinio_missing_{uuid.uuid4().hex[:8]}"
    for args in (["server", "init", "--database", url],
                 ["server", "user", "add", "bob", "--role", "typist", "--database", url]):
        r = _run(args)
        assert r.exit_code == 2
        assert "cannot open the database" in r.output and "does not exist" in r.output, r.output
