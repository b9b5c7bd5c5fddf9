import pytest

from logbuild import build_log


@pytest.fixture()
def election_log():
    return build_log()
