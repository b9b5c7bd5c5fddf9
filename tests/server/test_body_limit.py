"""BodyLimit at the ASGI level: a request that declares no body over HTTP/1.x passes
through untouched; an HTTP/2 body, which needs neither Content-Length nor
Transfer-Encoding, is still counted and cut at the limit (413)."""
import asyncio
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from escrutinio.server.app import BodyLimit

SETTINGS = SimpleNamespace(max_request_bytes=10, max_upload_bytes=10, max_photo_bytes=10)


def _run(http_version: str, chunks: list[bytes]) -> tuple[int, bool]:
    """(status sent, whether the app got the server's own receive)"""
    sent, got_own = [], []
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    async def app(scope, rcv, snd):
        got_own.append(rcv is receive)
        more = True
        while more:
            message = await rcv()
            more = message.get("more_body", False)
        await snd({"type": "http.response.start", "status": 200, "headers": []})
        await snd({"type": "http.response.body", "body": b"ok"})

    scope = {"type": "http", "http_version": http_version, "method": "POST", "path": "/api/v1/entries", "headers": []}
    # in a thread of its own: the browser tests leave an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, BodyLimit(app, SETTINGS)(scope, receive, send)).result()
    return sent[0], got_own[0] if got_own else False


def test_an_http1_request_without_a_body_passes_through_untouched():
    assert _run("1.1", [b""]) == (200, True)


def test_an_http2_body_without_length_headers_is_still_counted():
    status, _ = _run("2", [b"x" * 8, b"x" * 8])
    assert status == 413
