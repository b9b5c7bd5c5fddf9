"""docs/errors.md: every bad input listed there is run, and none gives a traceback or an
exit 0 with a silently different answer (issue 14 acceptance)."""
import gzip
import io
import json
import re
import shlex
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from escrutinio.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "errors.md"
EXAMPLES = ROOT / "examples"
FINAL_2019 = EXAMPLES / "bolivia" / "2019" / "computo_2019-10-25.csv.gz"


def _final_lines() -> list[str]:
    return gzip.open(FINAL_2019, "rt", encoding="utf-8-sig").read().splitlines()


def _xlsx(header: str, rows: list[str]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for line in [header, *rows]:
        ws.append(line.split(","))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _replace_cell(header: str, row: str, column: str, value: str) -> str:
    cells = row.split(",")
    cells[header.split(",").index(column)] = value
    return ",".join(cells)


def _bundled_mapping(name: str) -> str:
    import escrutinio

    return (Path(escrutinio.__file__).parent / "mappings" / name).read_text(encoding="utf-8")


def build_bad_inputs(folder: Path) -> None:
    """BAD_INPUTS: every file that docs/errors.md names as {bad}/NAME."""
    lines = _final_lines()
    head, rows = lines[0], lines[1:]
    good = "\n".join([head, *rows[:5]]) + "\n"
    files: dict[str, bytes] = {
        "good.csv": good.encode(),
        "empty.csv": b"",
        "binary.csv": bytes(range(256)) * 8,
        "utf16.csv": good.encode("utf-16"),
        "csv_named.xlsx": good.encode(),
        "truncated.xlsx": _xlsx(head, rows[:5])[:1500],
        "truncated.csv.gz": gzip.compress(good.encode())[:60],
        "header_only.csv": (head + "\n").encode(),
        "float_vote.csv": (head + "\n" + _replace_cell(head, rows[0], "CC", "12.5") + "\n").encode(),
        "text_vote.csv": (head + "\n" + _replace_cell(head, rows[0], "CC", "abc") + "\n").encode(),
        "empty_vote.csv": (head + "\n" + _replace_cell(head, rows[0], "CC", "") + "\n").encode(),
        "unknown_layout.csv": b"a,b,c\n1,2,3\n",
        "bad_mapping.toml": b"name = \n",
        "expected_bad.toml": _bundled_mapping("bolivia_2019_computo.toml").replace("tables = 34555", "tables = -5").encode(),
        "north.csv": ("\n".join([head, *[r for r in rows if ",La Paz," in r]]) + "\n").encode(),
        "rest.csv": ("\n".join([head, *[r for r in rows if ",La Paz," not in r]]) + "\n").encode(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.csv", good)
        z.writestr("b.csv", good)
    (folder / "two.zip").write_bytes(buf.getvalue())
    (folder / "folder").mkdir()
    # a PVT design drawn for the 2019 election (issue 28: its estimate on a 2020 export is refused)
    import polars as pl
    from escrutinio.pvt.design import make_design

    roll = pl.DataFrame({"unit": [str(i) for i in range(1, 41)], "registered": [200] * 40})
    design = make_design(roll, 10, "7", election={"name": "Bolivia 2019", "date": "2019-10-20"})
    (folder / "design_2019.json").write_text(design.to_json(), encoding="utf-8")


def doc_rows() -> list[tuple[str, str, str]]:
    """(command, message cell, exit cell) for every row of the table."""
    table = DOC.read_text(encoding="utf-8").split("## Every bad input tried", 1)[1]
    out = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        out.append((cells[0].strip("`"), cells[2], cells[3]))
    return out


ROWS = doc_rows()


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    build_bad_inputs(folder)
    return folder


def _run(command: str, bad: Path, json_output: bool = False):
    args = [a.replace("{bad}", str(bad)).replace("{examples}", str(EXAMPLES)) for a in shlex.split(command)]
    if json_output:
        args += ["--format", "json"]
    return CliRunner().invoke(main, args)


def _answer(result) -> dict:
    d = json.loads(result.output)
    for key in ("snapshot", "exported_at", "filters"):
        d.pop(key, None)
    return d


def test_the_table_lists_many_bad_inputs():
    assert len(ROWS) >= 30


@pytest.mark.parametrize("command,message,exit_cell", ROWS, ids=[r[0][:60] for r in ROWS])
def test_bad_input(command, message, exit_cell, bad):
    result = _run(command, bad)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback for {command}: {result.exception!r}")
    assert "Traceback" not in result.output
    if exit_cell.startswith("0"):
        assert result.exit_code == 0, result.output
        same = re.search(r"same as `([^`]+)`", exit_cell).group(1)
        assert _answer(_run(command, bad, True)) == _answer(_run(same, bad, True))
        return
    assert result.exit_code == int(exit_cell), result.output
    for expected in re.findall(r"`([^`]+)`", message):
        assert expected in result.output, f"{expected!r} not in {result.output!r}"
