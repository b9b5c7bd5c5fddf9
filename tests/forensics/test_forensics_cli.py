"""Readable forensics output and bad options (issue 16 item 4; issue 14 items 4 and 7)."""
import re
from pathlib import Path

from click.testing import CliRunner

from escrutinio.cli import main

BOLIVIA = Path(__file__).parents[2] / "examples" / "bolivia"
SMALL_2020 = BOLIVIA / "2020" / "computo_20201018T232833.csv.gz"


def _table(*extra):
    res = CliRunner().invoke(main, ["forensics", str(SMALL_2020), "--contest", "PRESIDENTE", "--draws", "100",
                                    "--placebo-sims", "2", "--no-klimek", *extra])
    assert res.exit_code == 0, res.output
    return res.output


def test_table_is_readable():
    out = _table()
    # no Python structures, no "p = 0", counts with thousands separators
    assert not re.search(r"[{\[]'|': |\{\w+: ", out)        # no printed dicts or lists
    assert not re.search(r"\bp = 0\b", out)
    assert "< 0.001" in out                                   # skewness of turnout, at least
    assert "1,084 tables" in out
    # one aligned line per test with its p, Holm p and flag columns
    header = next(line for line in out.splitlines() if line.startswith("test "))
    assert all(h in header for h in ("statistic", "p (Holm)", "flagged", "placebo"))
    rows = [line for line in out.splitlines() if line.startswith(("2bl_mean ", "turnout_skewness ", "p05_leader "))]
    assert len(rows) == 3 and len({line.index(" all ") for line in rows}) == 1
    # the marks are explained, and the caveats follow the table
    assert "- = descriptive test" in out and "* = flagged" in out
    assert out.index("Caveats:") > out.index("p (Holm):")
    # columns are not truncated: the full null text is printed
    assert "zero slope of leader votes per registered voter on turnout (OLS t-test)" in out


def test_bad_options_are_usage_errors_not_tracebacks():
    for args in (["--draws", "-5"], ["--draws", "0"], ["--seed", "-1"], ["--placebo-sims", "-2"],
                 ["--max-turnout", "1.5"], ["--definitions", "nope"], ["--leader-share", "all"]):
        res = CliRunner().invoke(main, ["forensics", str(SMALL_2020), *args])
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)


def test_directory_and_two_unrelated_files_are_refused(tmp_path):
    res = CliRunner().invoke(main, ["forensics", str(tmp_path)])
    assert res.exit_code == 2 and "directory" in res.output
    res = CliRunner().invoke(main, ["forensics", str(BOLIVIA / "2019" / "computo_2019-10-25.csv.gz"), str(SMALL_2020)])
    assert res.exit_code == 2 and ("different elections" in res.output or "--contest" in res.output)


def test_progress_bar_only_on_a_terminal():
    # CliRunner's output is not a terminal: nothing but the table (the bar goes to stderr on a tty)
    out = _table()
    assert out.startswith("Forensics battery:")
