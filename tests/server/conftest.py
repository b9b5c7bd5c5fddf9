import gzip
from pathlib import Path

import pytest

from escrutinio.server.testing import database_url, server_client  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
COMPUTO = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"
TREP = ROOT / "examples/bolivia/2019/trep_2019-10-20T19-40-57.csv.gz"


def head_of(src: Path, target: Path, rows: int) -> Path:
    """The header and the first ``rows`` lines of a bundled file (same layout, fewer actas)."""
    with gzip.open(src, "rb") as f, gzip.open(target, "wb") as out:
        for i, line in enumerate(f):
            if i > rows:
                break
            out.write(line)
    return target


@pytest.fixture(scope="session")
def small_computo(tmp_path_factory) -> Path:
    return head_of(COMPUTO, tmp_path_factory.mktemp("data") / "computo_2019-10-25.csv.gz", 400)
