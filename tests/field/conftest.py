from escrutinio.server.testing import database_url, server_client  # noqa: F401

import pytest

from escrutinio.server.testing import head_of

COMPUTO = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples/bolivia/2019/computo_2019-10-25.csv.gz"


@pytest.fixture(scope="session")
def small_computo_rows(tmp_path_factory):
    """The first 40 actas of the 2019 cómputo, and their rows as read."""
    from escrutinio.io import read_election

    path = head_of(COMPUTO, tmp_path_factory.mktemp("field") / "computo_2019-10-25.csv.gz", 40)
    snap = read_election([str(path)]).snapshots[0]
    return path, {r["unit"]: r for r in snap.frame.iter_rows(named=True)}
