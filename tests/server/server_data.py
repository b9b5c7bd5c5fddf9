"""Bundled files the server tests load (a module of its own: `conftest` names clash
between test folders)."""
from pathlib import Path

from escrutinio.server.testing import head_of  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
COMPUTO = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"
TREP = ROOT / "examples/bolivia/2019/trep_2019-10-20T19-40-57.csv.gz"
