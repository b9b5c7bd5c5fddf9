"""Issue 24: the layers are import-linter contracts in pyproject.toml (docs/architecture.md).
They hold on the real tree, and a forbidden import makes them fail."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports() -> str:
    found = Path(sys.executable).with_name("lint-imports")
    if found.exists():
        return str(found)
    found = shutil.which("lint-imports")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("lint-imports is not installed (pip install -e '.[test]')")
        pytest.skip("lint-imports is not installed (pip install -e '.[test]')")
    return found


def _run(cwd: Path, src: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([_lint_imports(), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


CONTRACTS = ("Layers:", "no web framework", "Only escrutinio.report imports matplotlib",
             "The method packages do not import one another", "Checks, tabulation and reading",
             "No import cycles")


def test_the_layer_contracts_hold_on_the_tree():
    out = _run(ROOT, ROOT / "src")
    assert out.returncode == 0, out.stdout + out.stderr
    text = " ".join(out.stdout.split())  # long names are wrapped
    for name in CONTRACTS:
        assert name in text
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in text


@pytest.mark.parametrize("module, line, broken", [
    ("model.py", "import escrutinio.cli\n", "escrutinio.model -> escrutinio.cli"),
    ("tabulate.py", "import escrutinio.app.results\n", "escrutinio.tabulate -> escrutinio.app.results"),
    ("forensics/core.py", "import escrutinio.audit.sampling\n", "escrutinio.forensics.core -> escrutinio.audit.sampling"),
    ("checks.py", "import matplotlib\n", "escrutinio.checks -> matplotlib"),
    ("dynamics/diff.py", "import fastapi\n", "escrutinio.dynamics.diff -> fastapi"),
    ("cli/publication.py", "import escrutinio.cli.server\n", "No cycles are allowed in escrutinio.cli"),
])
def test_a_forbidden_import_breaks_the_contracts(tmp_path, module, line, broken):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "escrutinio", src / "escrutinio", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "escrutinio" / module
    target.write_text(target.read_text(encoding="utf-8") + line, encoding="utf-8")
    out = _run(tmp_path, src)
    assert out.returncode != 0, out.stdout
    assert "BROKEN" in out.stdout
    assert broken in out.stdout, out.stdout
