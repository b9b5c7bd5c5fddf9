"""Bad files give an error naming the file and saying what it is, never a traceback
(issue 14, item 4). Each case failed on main before: a traceback, or "unknown layout"
with garbage column names."""
import io
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.errors import EscrutinioError, InputError, UsageError
from escrutinio.io import read_snapshots
from escrutinio.io.atomic import write_atomic

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "forensics_demo"
MAPPING = DEMO / "freedonia.toml"
XLSX = ROOT / "examples" / "bolivia" / "2020" / "computo_20201019T081834.xlsx"


def csv_bytes() -> bytes:
    return (DEMO / "freedonia_2025.csv").read_bytes()


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result


def test_utf16_csv_is_read(tmp_path):
    p = tmp_path / "u16.csv"
    p.write_bytes(csv_bytes().decode("utf-8").encode("utf-16"))
    ref = read_snapshots(DEMO / "freedonia_2025.csv", mapping=str(MAPPING))[0]
    snap = read_snapshots(p, mapping=str(MAPPING))[0]
    assert snap.frame.drop("source_row").equals(ref.frame.drop("source_row"))
    # auto-detection sees the real column names, not NUL-riddled garbage
    r = run("results", p)
    assert r.exit_code == 2 and "'Acta'" in r.output and "\\x00" not in r.output


def test_utf16_without_bom_little_endian(tmp_path):
    p = tmp_path / "u16le.csv"
    p.write_bytes(csv_bytes().decode("utf-8").encode("utf-16-le"))
    assert read_snapshots(p, mapping=str(MAPPING))[0].n_units > 0


def test_csv_named_xlsx(tmp_path):
    p = tmp_path / "count.xlsx"
    p.write_bytes(csv_bytes())
    r = run("results", p)
    assert r.exit_code == 2 and "holds text" in r.output and "rename it to .csv" in r.output


def test_truncated_xlsx(tmp_path):
    p = tmp_path / "cut.xlsx"
    p.write_bytes(XLSX.read_bytes()[:4000])
    r = run("results", p)
    assert r.exit_code == 2 and "truncated or corrupt" in r.output and "Traceback" not in r.output
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_snapshots(p, mapping="bolivia-2020-oep")


def test_xlsx_read_as_csv_by_mapping_says_so(tmp_path):
    p = tmp_path / "count.xlsx"
    p.write_bytes(XLSX.read_bytes()[:4000])
    with pytest.raises(InputError, match="spreadsheet.*not CSV text.*declares format"):
        read_snapshots(p, mapping=str(MAPPING))


@pytest.mark.parametrize("command", ["results", "check", "report"])
def test_directory_as_file(tmp_path, command):
    d = tmp_path / "exports"
    d.mkdir()
    r = run(command, d)
    assert r.exit_code == 2 and "directory" in r.output
    with pytest.raises(InputError, match="is a directory"):
        read_snapshots(d, mapping=str(MAPPING))


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path, content):
    p = tmp_path / "empty.csv"
    p.write_bytes(content)
    r = run("results", p)
    assert r.exit_code == 2 and "empty file" in r.output and "unknown layout" not in r.output


def test_binary_file(tmp_path):
    p = tmp_path / "blob.csv"
    p.write_bytes(bytes(range(256)) * 20)
    r = run("results", p)
    assert r.exit_code == 2 and "not a text table" in r.output and "unknown layout" not in r.output
    p2 = tmp_path / "random.csv"
    p2.write_bytes(os.urandom(3000).replace(b"\x00", b"\x01"))
    r = run("results", p2, "--mapping", MAPPING)
    assert r.exit_code == 2 and "not a text table" in r.output


def test_zip_with_two_members_and_member_syntax(tmp_path):
    p = tmp_path / "two.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("a.csv", csv_bytes())
        z.writestr("b.csv", csv_bytes())
    r = run("results", p, "--mapping", MAPPING)
    assert r.exit_code == 2 and f"{p}::a.csv" in r.output and "member = " in r.output
    assert "member=" not in r.output.replace("member = ", "")  # no option the CLI lacks
    ok = run("results", f"{p}::b.csv", "--mapping", MAPPING, "--format", "json")
    assert ok.exit_code == 0, ok.output
    missing = run("results", f"{p}::c.csv", "--mapping", MAPPING)
    assert missing.exit_code == 2 and "no member 'c.csv'" in missing.output


def test_zip_member_in_mapping(tmp_path):
    p = tmp_path / "two.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("a.csv", csv_bytes())
        z.writestr("b.csv", b"x")
    text = MAPPING.read_text(encoding="utf-8").replace("[source]", '[source]\nmember = "a.csv"')
    m = tmp_path / "m.toml"
    m.write_text(text, encoding="utf-8")
    assert read_snapshots(p, mapping=str(m))[0].n_units > 0


def test_atomic_write_refuses_missing_folder_and_directory(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        write_atomic(tmp_path / "nope" / "r.html", "x")
    with pytest.raises(UsageError, match="is a directory"):
        write_atomic(tmp_path, "x")
    out = write_atomic(tmp_path / "r.html", "<p>ok</p>")
    assert out.read_text() == "<p>ok</p>"
    assert [f.name for f in tmp_path.iterdir()] == ["r.html"]  # no .tmp left behind


def test_atomic_write_leaves_no_tmp_on_failure(tmp_path, monkeypatch):
    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(UsageError, match="No space left"):
        write_atomic(tmp_path / "r.html", "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [None, b"\xff\xfe\x00binary"])
def test_mapping_that_is_a_directory_or_not_text(tmp_path, content):
    m = tmp_path / "m.toml"
    if content is None:
        m.mkdir()
    else:
        m.write_bytes(content)
    r = run("results", DEMO / "freedonia_2025.csv", "--mapping", m)
    assert r.exit_code == 2 and ("is a directory" in r.output or "must be UTF-8 text" in r.output)


def test_atomic_write_gives_the_umask_mode_not_mkstemps_0600(tmp_path):
    import os

    from escrutinio.io.atomic import write_atomic

    old = os.umask(0o022)
    try:
        out = write_atomic(tmp_path / "report.html", "<p>ok</p>")
    finally:
        os.umask(old)
    assert (out.stat().st_mode & 0o777) == 0o644
