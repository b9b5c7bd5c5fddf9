"""The Python API bounds its arguments as the CLI does, with one-line errors (issue 28)."""
from __future__ import annotations

from pathlib import Path

import pytest

import escrutinio as es
from escrutinio.errors import UsageError

FINAL = Path(__file__).resolve().parents[2] / "examples/bolivia/2019/computo_2019-10-25.csv.gz"


@pytest.mark.parametrize("kwargs,message", [
    ({"draws": -3}, "draws must be a whole number >= 10"),
    ({"draws": 5}, "draws must be a whole number >= 10"),
    ({"draws": 100.5}, "draws must be a whole number"),
    ({"seed": -1}, "seed must be a whole number >= 0"),
    ({"seed": "x"}, "seed must be a whole number >= 0"),
])
def test_forensics_arguments(kwargs, message):
    with pytest.raises(UsageError, match=message):
        es.forensics("no-such-file-is-read.csv", **kwargs)


def test_project_and_audit_seeds():
    with pytest.raises(UsageError, match="seed must be"):
        es.project("no-such-file.csv", roll=FINAL, seed=-1)
    with pytest.raises(UsageError, match="simulations must be"):
        es.project("no-such-file.csv", roll=FINAL, simulations=0)
    with pytest.raises(UsageError, match="seed must be"):
        es.audit("no-such-file.csv", seed=-1)
    with pytest.raises(UsageError, match="risk_limit must be in"):
        es.audit("no-such-file.csv", risk_limit=2)
