"""`serve` says "serving http://..." when a worker answers, not when it starts loading.

uvicorn binds the port before its workers have imported the application and run its
start-up (with several workers the kernel accepts connections on the shared socket long
before any worker can answer them), so an open port proves nothing. A background thread
asks the server for a page until an HTTP answer arrives, then prints the line.
"""
from __future__ import annotations

import http.client
import threading
import time
from typing import Callable

READY_PATH = "/openapi.json"


def probe_host(host: str) -> str:
    """Where to knock: a wildcard bind address is reached on loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "::1"
    return host.strip("[]")


def answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when an HTTP answer (any status) comes back from host:port."""
    conn = http.client.HTTPConnection(probe_host(host), port, timeout=timeout)
    try:
        conn.request("GET", READY_PATH, headers={"User-Agent": "escrutinio-serve-readiness"})
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def announce_when_ready(host: str, port: int, message: str, echo: Callable[[str], None],
                        interval: float = 0.25, timeout: float = 3600.0) -> threading.Thread | None:
    """Print ``message`` (with the seconds it took) once the server answers; a daemon
    thread, so it never outlives the server. With port 0 the system picks the port, which
    only uvicorn's own log line names: nothing to knock on, so that is said instead."""
    started = time.monotonic()
    if port == 0:
        echo("the system chooses the port (--port 0): uvicorn's line 'Uvicorn running on ...' names it")
        return None

    def wait() -> None:
        while time.monotonic() - started < timeout:
            if answers(host, port):
                echo(f"{message} (ready after {time.monotonic() - started:.1f} s)")
                return
            time.sleep(interval)

    thread = threading.Thread(target=wait, name="escrutinio-serve-readiness", daemon=True)
    thread.start()
    return thread
