"""`serve` prints "serving http://..." only once a worker answers (issue 28)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx

from escrutinio.cli.readiness import answers, probe_host
from escrutinio.server.testing import _free_port


def test_probe_host_and_a_closed_port():
    assert probe_host("0.0.0.0") == "127.0.0.1" and probe_host("::") == "::1" and probe_host("10.0.0.2") == "10.0.0.2"
    assert answers("127.0.0.1", _free_port(), timeout=0.5) is False


def test_serving_is_printed_when_a_worker_answers(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "escrutinio", "serve", "--database", f"sqlite:///{tmp_path}/e.db",
                             "--port", str(port), "--workers", "2", "--log-level", "warning"],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("serving http://"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(180), "".join(lines)
        # the moment the line is out, the server answers
        t = time.monotonic()
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).status_code == 200
        assert time.monotonic() - t < 10
        starting = [i for i, line in enumerate(lines) if line.startswith("starting 2 worker(s)")]
        serving = [i for i, line in enumerate(lines) if line.startswith("serving http://")]
        assert starting and serving and starting[0] < serving[0]
        assert "ready after" in lines[serving[0]]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_port_zero_is_said_not_waited_for():
    from escrutinio.cli.readiness import announce_when_ready

    said = []
    assert announce_when_ready("127.0.0.1", 0, "serving", said.append) is None
    assert "--port 0" in said[0]
