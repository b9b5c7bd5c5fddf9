"""Where a verifier reads a log from: a server URL, a saved JSON Lines file, or a
directory (a static snapshot, or what ``verify-log --save`` wrote).

A server publishes (contract C3, routes in ``escrutinio.server.api.log``)::

    GET /api/v1/log                 JSON Lines, one entry per line (with its "hash")
    GET /api/v1/log/public-key      the Ed25519 public key, PEM
    GET /api/v1/checkpoints         {"checkpoints": [{"id", "tree_size", "root_hash", "time", "signature", "key_id"}]}
    GET /api/v1/log/inclusion       ?unit=U[&contest=C] or ?seq=N, [&tree_size=N]
    GET /api/v1/log/consistency     ?first=M&second=N
    GET /api/v1/results             ?source=official|copies&level=L&contest=C

A directory holds ``log.jsonl`` (or the static snapshots' ``log-segment.jsonl`` files,
read in order), ``checkpoints.json`` and ``public-key.pem``.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from escrutinio.errors import UsageError
from escrutinio.publication.checkpoint import Checkpoint

LOG_FILE = "log.jsonl"
SEGMENT_FILE = "log-segment.jsonl"
CHECKPOINTS_FILE = "checkpoints.json"
CHECKPOINT_FILE = "checkpoint.json"
PUBLIC_KEY_FILE = "public-key.pem"


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def parse_checkpoints(doc) -> list[Checkpoint]:
    items = doc.get("checkpoints", doc) if isinstance(doc, dict) else doc
    if isinstance(items, dict):  # a single checkpoint
        items = [items]
    if not isinstance(items, list):
        raise UsageError("checkpoints must be a JSON list (or {\"checkpoints\": [...]})")
    return [Checkpoint.from_dict(d) for d in items]


class FileSource:
    """A saved log: a ``.jsonl`` (or ``.jsonl.gz``) file, or a directory."""

    def __init__(self, path: str, checkpoints: str | None = None):
        self.path = Path(path)
        if not self.path.exists():
            raise UsageError(f"{path}: no such file or directory")
        self._checkpoints_path = Path(checkpoints) if checkpoints else None
        self.name = str(self.path)

    def _log_files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        whole = self.path / LOG_FILE
        if whole.exists():
            return [whole]
        segments = sorted(self.path.glob(f"*/{SEGMENT_FILE}"))
        if segments:
            return segments
        raise UsageError(f"{self.path} holds no {LOG_FILE} and no */{SEGMENT_FILE}")

    def lines(self) -> Iterator[str]:
        for f in self._log_files():
            opener = gzip.open if f.suffix == ".gz" else open
            try:
                with opener(f, "rt", encoding="utf-8", newline="\n") as fh:
                    yield from fh
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"{f}: cannot read the log ({exc})") from exc

    def checkpoints(self) -> list[Checkpoint]:
        path = self._checkpoints_path
        if path is None and self.path.is_dir():
            for cand in (self.path / CHECKPOINTS_FILE,):
                if cand.exists():
                    path = cand
            if path is None:  # static snapshots: one checkpoint.json per directory
                cps = []
                for f in sorted(self.path.glob(f"*/{CHECKPOINT_FILE}")):
                    cps.extend(parse_checkpoints(_read_json(f)))
                return cps
        if path is None and self.path.is_file():
            # a log saved with `curl .../api/v1/log > log.jsonl` next to
            # `curl .../api/v1/checkpoints > checkpoints.json`
            for cand in (self.path.with_name(CHECKPOINTS_FILE),
                         self.path.with_name(self.path.name.split(".")[0] + ".checkpoints.json")):
                if cand.exists():
                    path = cand
                    break
        if path is None:
            return []
        return parse_checkpoints(_read_json(path))

    def public_key_pem(self) -> bytes | None:
        if self.path.is_dir():
            for f in [self.path / PUBLIC_KEY_FILE, *sorted(self.path.glob(f"*/{PUBLIC_KEY_FILE}"))[-1:]]:
                if f.exists():
                    return f.read_bytes()
        return None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from exc


class ServerSource:
    """A running escrutinio server, read over HTTP (only GETs; no credentials)."""

    def __init__(self, url: str, client=None, timeout: float = 60.0):
        import httpx

        self.base = url.rstrip("/")
        if self.base.endswith("/api/v1"):
            self.base = self.base[: -len("/api/v1")]
        self.name = self.base
        self._own = client is None
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        if self._own:
            self.client.close()

    def _url(self, path: str) -> str:
        return f"{self.base}/api/v1{path}"

    def get_json(self, path: str, params: dict | None = None, allow_missing: bool = False):
        import httpx

        try:
            r = self.client.get(self._url(path), params=params)
        except httpx.HTTPError as exc:
            raise UsageError(f"cannot reach {self._url(path)}: {exc}") from exc
        if allow_missing and r.status_code in (404, 409, 422, 400):
            return None
        if r.status_code != 200:
            raise UsageError(f"{r.request.url} answered {r.status_code}: {r.text[:300]}")
        try:
            return r.json()
        except ValueError as exc:
            raise UsageError(f"{r.request.url} did not answer JSON") from exc

    def lines(self) -> Iterator[str]:
        import httpx

        try:
            with self.client.stream("GET", self._url("/log")) as r:
                if r.status_code != 200:
                    r.read()
                    raise UsageError(f"{self._url('/log')} answered {r.status_code}: {r.text[:300]}")
                yield from r.iter_lines()
        except httpx.HTTPError as exc:
            raise UsageError(f"the log stream from {self.base} broke off: {exc}") from exc

    def checkpoints(self) -> list[Checkpoint]:
        return parse_checkpoints(self.get_json("/checkpoints"))

    def public_key_pem(self) -> bytes | None:
        import httpx

        try:
            r = self.client.get(self._url("/log/public-key"))
        except httpx.HTTPError as exc:
            raise UsageError(f"cannot reach {self._url('/log/public-key')}: {exc}") from exc
        return r.content if r.status_code == 200 else None

    def results(self, source: str, contest: str, level: str | None):
        params = {"source": source, "contest": contest}
        if level:
            params["level"] = level
        return self.get_json("/results", params, allow_missing=True)

    def inclusion(self, unit: str, contest: str | None = None):
        params = {"unit": unit}
        if contest:
            params["contest"] = contest
        return self.get_json("/log/inclusion", params)

    def consistency(self, first: int, second: int):
        return self.get_json("/log/consistency", {"first": first, "second": second})


def open_source(source: str, checkpoints: str | None = None, client=None):
    if is_url(source):
        if checkpoints:
            raise UsageError("--checkpoints is for saved logs; a server publishes its own")
        return ServerSource(source, client=client)
    return FileSource(source, checkpoints)
