from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOLIVIA = ROOT / "examples" / "bolivia"


@pytest.fixture(scope="session")
def bolivia() -> Path:
    return BOLIVIA
