"""Schemathesis against /openapi.json: generated requests (within the spec and just
outside it) never produce a 500. Each operation runs with a token of a role it admits,
so requests reach the handlers rather than stopping at the role check. Bounded: a few
examples per operation."""
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from escrutinio.server.testing import ServerClient, database

from server_data import head_of, COMPUTO


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schemathesis")
    with database(request.param, tmp) as url:
        sc = ServerClient(url, tmp, events_lifetime=0.2, events_poll=0.05)
        sc.load(head_of(COMPUTO, tmp / "computo_2019-10-25.csv.gz", 50))
        tokens = {role: sc.token(role) for role in ("admin", "coordinator", "typist", "watcher", "reader")}
        yield sc, tokens
        sc.close()


def test_no_server_error(served):
    from hypothesis import given

    sc, tokens = served
    schema = schemathesis.openapi.from_asgi("/openapi.json", sc.app)
    failures, operations, statuses = [], 0, {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        roles = operation.definition.raw.get("x-roles") or ["reader"]
        headers = {"Authorization": f"Bearer {tokens[roles[0]]}"}

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def run(case):
            response = case.call(headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:300]))

        run()
    assert operations > 25
    print("schemathesis statuses:", sorted(statuses.items()))
    assert failures == []
