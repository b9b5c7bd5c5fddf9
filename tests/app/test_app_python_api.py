"""Issue 14 item 8: `import escrutinio` exposes a small API, and docs/python.md's worked
example runs as written."""
import contextlib
import io
import os
import re
from pathlib import Path

import polars as pl
import pytest

import escrutinio

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "python.md"
FINAL = str(ROOT / "examples" / "bolivia" / "2019" / "computo_2019-10-25.csv.gz")


def _blocks(text: str):
    """(python code, expected text or None) pairs in document order."""
    fences = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
    out = []
    for i, (lang, body) in enumerate(fences):
        if lang == "python":
            nxt = fences[i + 1] if i + 1 < len(fences) else None
            out.append((body, nxt[1] if nxt and nxt[0] == "text" else None))
    return out


def test_docs_python_example_runs_as_written(monkeypatch):
    monkeypatch.chdir(ROOT)
    blocks = _blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    namespace: dict = {}
    for code, expected in blocks:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, str(DOC), "exec"), namespace)
        printed = buf.getvalue().splitlines()
        for line in (expected or "").strip().splitlines():
            assert line in printed, f"{line!r} not printed by:\n{code}\ngot:\n{buf.getvalue()}"


def test_top_level_names():
    for name in ("read", "check", "tabulate", "project", "forensics", "audit"):
        assert callable(getattr(escrutinio, name)), name
    assert set(escrutinio.__all__) >= {"read", "check", "tabulate", "project", "forensics", "audit"}


def test_subpackages_stay_importable_and_callable():
    import escrutinio.audit.sampling  # noqa: F401
    import escrutinio.forensics.battery  # noqa: F401
    from escrutinio.tabulate import tabulate as low_level

    assert callable(escrutinio.forensics) and escrutinio.forensics.run_battery
    assert callable(escrutinio.audit) and escrutinio.audit.sampling.consistent_sample
    assert callable(escrutinio.tabulate) and callable(low_level)


def test_results_have_the_three_faces():
    e = escrutinio.read(FINAL)
    for result in (e, escrutinio.check(e), escrutinio.tabulate(e, level="department")):
        assert isinstance(result.to_dict(), dict)
        assert isinstance(result.to_polars(), pl.DataFrame)
        assert result._repr_html_().startswith("<div>")


def test_tabulate_to_dict_is_the_results_contract():
    from click.testing import CliRunner

    from escrutinio.cli import main
    import json

    out = CliRunner().invoke(main, ["results", FINAL, "--level", "department", "--format", "json"])
    assert json.loads(out.output) == escrutinio.tabulate(FINAL, level="department").to_dict()


def test_errors_are_the_commands_errors():
    from escrutinio.errors import UsageError

    with pytest.raises(UsageError, match="closest"):
        escrutinio.tabulate(FINAL, filters={"department": "Potozi x"})
