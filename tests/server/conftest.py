from pathlib import Path

import pytest

from escrutinio.server.testing import database_url, server_client  # noqa: F401
from server_data import COMPUTO, head_of


@pytest.fixture(scope="session")
def small_computo(tmp_path_factory) -> Path:
    return head_of(COMPUTO, tmp_path_factory.mktemp("data") / "computo_2019-10-25.csv.gz", 400)
