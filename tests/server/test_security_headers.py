"""Issue 23: security headers on every answer, Swagger UI served locally, rate limits
per client and per token with 429 and Retry-After."""
import re
import time

import pytest

from escrutinio.server.testing import ServerClient, database

HEADERS = {"content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"}


def test_every_answer_has_the_security_headers(server_client):
    c = server_client.client
    answers = [c.get("/api/v1/results"), c.get("/openapi.json"), c.get("/docs"), c.get("/nowhere"),
               c.post("/api/v1/entries", json={}), c.get("/"), c.get("/api/v1/results", params={"contest": "a\x00"})]
    server_client.settings.max_request_bytes = 10
    answers.append(c.post("/api/v1/entries", content=b"x" * 100, headers=server_client.headers("typist")))
    assert {r.status_code for r in answers} >= {200, 404, 401, 413, 422}
    for r in answers:
        assert HEADERS <= set(r.headers), (r.request.url, r.status_code, dict(r.headers))
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-eval" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_swagger_ui_is_served_locally_with_its_licence(server_client):
    c = server_client.client
    page = c.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "http" not in page.text.lower()
    assert "<script>" not in page.text  # no inline script: the CSP forbids it
    for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        r = c.get(src)
        assert r.status_code == 200 and len(r.content) > 100, src
    assert "Apache License" in c.get("/docs/assets/LICENSE").text
    assert c.get("/redoc").status_code == 404


def _clear_of_a_minute_edge(margin: float = 10.0) -> None:
    """The limits' sliding-window counters sit in windows aligned on the clock's minutes,
    and the previous window's count is weighed down (and rounded down) as the new one
    goes: five requests just before a minute turns and a sixth just after pass a limit of
    five a minute. These tests count requests in a window; they start clear of an edge."""
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.2)


@pytest.fixture(params=["sqlite", "postgresql"])
def limited(request, tmp_path):
    _clear_of_a_minute_edge()
    with database(request.param, tmp_path) as url:
        sc = ServerClient(url, tmp_path, rate_limit_client="5/minute", rate_limit_token="8/minute", max_streams=2, rate_limit_query=None,
                          events_lifetime=0.3, events_poll=0.05)
        try:
            yield sc
        finally:
            sc.close()


def test_rate_limits_answer_429_with_retry_after(limited):
    c = limited.client
    codes = [c.get("/api/v1/entries/states").status_code for _ in range(8)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
    r = c.get("/api/v1/entries/states")
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60 and "error" in r.json()
    assert HEADERS <= set(r.headers)
    # a token has its own budget, not the address's
    h = limited.headers("reader")
    codes = [c.get("/api/v1/entries/states", headers=h).status_code for _ in range(10)]
    assert codes[:8] == [200] * 8 and codes[8:] == [429] * 2
    # another token is not slowed by the first
    assert c.get("/api/v1/entries/states", headers=limited.headers("typist")).status_code == 200


def test_made_up_tokens_do_not_escape_the_limit(limited):
    c = limited.client
    codes = [c.get("/api/v1/entries/states", headers={"Authorization": f"Bearer fake{i}"}).status_code for i in range(25)]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}


def test_made_up_tokens_through_the_login_form_do_not_escape_the_limit(tmp_path):
    """The form carries the token in its body, and checks it with an in-process call that
    the limits do not count: the form's own 401s are counted as failed sign-ins."""
    with database("sqlite", tmp_path) as url:
        sc = ServerClient(url, tmp_path, rate_limit_client="1000/minute", rate_limit_token="1000/minute",
                          rate_limit_query=None)
        try:
            c = sc.client
            origin = {"Origin": str(c.base_url)}
            codes = [c.post("/login", data={"token": f"fake{i}"}, headers=origin).status_code for i in range(25)]
            assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}, codes
        finally:
            sc.close()


def test_a_page_counts_once_against_the_limit_not_once_per_call_it_makes(limited, small_computo):
    """A page reads a dozen JSON answers in process: those calls are not counted (they came
    from one made-up address, so every reader's pages shared one bucket and lost their
    figures past a few views a second); the page's own request is, and a header cannot
    pass a request off as one of those calls."""
    limited.load(small_computo)
    c = limited.client
    views = [c.get("/", params={"lang": "en"}) for _ in range(5)]
    assert [r.status_code for r in views] == [200] * 5
    # every view whole: the same page, figures and all (before: the second view lost them)
    assert len({r.text.count("data-figure") for r in views}) == 1 and views[0].text.count("data-figure") >= 5
    assert all("too many requests" not in r.text for r in views)
    assert c.get("/", params={"lang": "en"}).status_code == 429  # the sixth view, over 5 a minute
    forged = {"X-Escrutinio-Internal-Call": "1", "escrutinio.internal_call": "1"}
    assert c.get("/api/v1/entries/states", headers=forged).status_code == 429


def test_event_streams_are_capped_per_client(limited):

    c = limited.client
    with c.stream("GET", "/api/v1/events") as a, c.stream("GET", "/api/v1/events") as b:
        assert a.status_code == b.status_code == 200
        third = c.get("/api/v1/events")
        assert third.status_code == 429 and "Retry-After" in third.headers


def test_distinct_filter_queries_have_a_lower_limit(tmp_path):
    _clear_of_a_minute_edge()
    with database("sqlite", tmp_path) as url:
        sc = ServerClient(url, tmp_path, rate_limit_client="100/minute", rate_limit_query="3/minute")
        try:
            c = sc.client
            codes = [c.get("/api/v1/entries/states", params={"contest": f"C{i}"}).status_code for i in range(5)]
            assert codes[3:] == [429, 429] and 429 not in codes[:3]
            assert c.get("/api/v1/entries/states").status_code == 200  # a cached read still answers
            r = c.get("/api/v1/entries/states", params={"contest": "again"})
            assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        finally:
            sc.close()


def test_the_rate_limit_counters_start_no_thread_per_request_and_still_expire(monkeypatch):
    """limits' MemoryStorage starts a Timer thread every 10 ms of traffic, and the event
    loop waited for each to start (issue 26): ours expire from one thread per process,
    which holds them weakly."""
    import gc
    import threading
    import weakref

    from limits import parse
    from limits.strategies import SlidingWindowCounterRateLimiter

    from escrutinio.server import guards

    monkeypatch.setattr(guards, "EXPIRY_SECONDS", 0.05)
    storage = guards._memory_counters()
    guards._memory_counters()  # a second app's: still one thread
    assert [t.name for t in threading.enumerate()].count("rate-limit-expiry") == 1
    limiter = SlidingWindowCounterRateLimiter(storage)
    started = []
    real_start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self.name), real_start(self))[1])
    limit = parse("3/second")
    deadline = time.monotonic() + 0.3
    hits = 0
    while time.monotonic() < deadline:  # 300 ms of traffic: about 30 Timers with the library's storage
        limiter.hit(limit, "client", f"10.0.0.{hits % 50}")
        hits += 1
    assert hits > 100 and started == []
    # a key not seen again is dropped by the expiry thread once its window has passed
    limiter.hit(parse("1/second"), "client", "gone")
    assert any("gone" in k for k in storage.storage)
    time.sleep(2.5)
    assert not any("gone" in k for k in storage.storage)
    # the thread does not keep a storage alive
    ref = weakref.ref(storage)
    del limiter, storage
    gc.collect()
    assert ref() is None


def test_a_cached_filtered_view_is_not_charged_the_query_limit(tmp_path, small_computo):
    """The query limit is on computing distinct filters: re-reading a filtered view already
    in memory counts against the address's limit only."""
    _clear_of_a_minute_edge()
    with database("sqlite", tmp_path) as url:
        sc = ServerClient(url, tmp_path, rate_limit_client="100/minute", rate_limit_query="3/minute")
        try:
            sc.load(small_computo)
            c = sc.client
            codes = [c.get("/api/v1/results", params={"level": "department"}).status_code for _ in range(10)]
            assert codes == [200] * 10, codes
            # distinct filters are still charged: the first one above counted once
            more = [c.get("/api/v1/results", params={"level": "department", "contest": f"C{i}"}).status_code
                    for i in range(3)]
            assert more[-1] == 429, more
        finally:
            sc.close()
