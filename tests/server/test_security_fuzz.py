"""Issue 23: a fuzz run over every text field with control characters, lone
surrogates and odd Unicode finds no 500 on either database (derandomised, bounded)."""
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from escrutinio.server.testing import ServerClient, database

from server_data import COMPUTO, head_of

NASTY = st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF,
                                       categories=None), max_size=30) | st.sampled_from(
    ["\x00", "a\x00", "\x1b[31m", "\r\n", "\ud800", "\udfff", "\u2028", "\ufeff", "%00", "\\u0000", "' OR 1=1 --",
     "9" * 400, "\x7f", "\x85", "é\u0301", ""])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    with database(request.param, tmp) as url:
        sc = ServerClient(url, tmp, events_lifetime=0.1, events_poll=0.05)
        sc.load(head_of(COMPUTO, tmp / "computo_2019-10-25.csv.gz", 30))
        yield sc
        sc.close()


def _post(c, path, headers, body):
    return c.post(path, headers={**headers, "content-type": "application/json"},
                  content=json.dumps(body, ensure_ascii=True))


def test_text_fields_never_give_a_500(served):
    sc = served
    c = sc.client
    h = {role: sc.headers(role) for role in ("admin", "coordinator", "typist")}
    statuses = {}

    @given(text=NASTY, where=st.sampled_from(["unit", "client_id", "contest", "note", "query", "path", "user", "field",
                                              "explain_unit", "header"]))
    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(text, where):
        values = {"CC": 1}
        if where in ("unit", "client_id", "contest"):
            body = {"unit": "1", "client_id": "c", "values": values, where: text}
            r = _post(c, "/api/v1/entries", h["typist"], body)
        elif where == "note":
            r = _post(c, "/api/v1/entries/1/resolve", h["coordinator"], {"values": values, "note": text})
        elif where == "user":
            r = _post(c, "/api/v1/users", h["admin"], {"name": text, "role": "typist"})
        elif where in ("field", "explain_unit"):
            body = {"unit": "1", "field": "CC", "note": "n", **({"field": text} if where == "field" else {"unit": text})}
            r = _post(c, "/api/v1/discrepancies/explain", h["coordinator"], body)
        elif where == "header":
            safe = text.encode("utf-8", "surrogatepass").decode("latin-1")
            try:
                r = c.get("/api/v1/results", headers={"Last-Event-ID": safe, "X-Note": safe})
            except Exception:  # the client itself refuses to send it: nothing reaches the server
                return
        else:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return  # a URL carries UTF-8
            if where == "query":
                r = c.get("/api/v1/results", params={"contest": text, "municipio": text})
            else:
                from urllib.parse import quote

                r = c.get("/api/v1/units/" + quote(text or "x", safe=""))
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (where, repr(text), r.status_code, r.text[:300])

    run()
    print("fuzz statuses:", sorted(statuses.items()))
    assert sum(statuses.values()) > 100
