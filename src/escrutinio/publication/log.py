"""The log as published: one canonical JSON line per entry, and an in-memory log for
tests, benchmarks and exports.

A published line is the entry's canonical JSON with one more member, ``hash`` (the
entry's own SHA-256), so that a reader can tell which entry was altered even when it is
the last one. The entry hash is always computed over the six entry keys only.
"""
from __future__ import annotations

import hashlib
import json
from typing import Iterable, Iterator

from escrutinio.publication.entry import GENESIS_PREV, canonical_json, entry_hash, make_entry
from escrutinio.publication.merkle import MerkleTree, hash_leaf


# json.dumps(text, ensure_ascii=False) for a str, without its Python-level dispatch (the
# same C function: four strings per entry, 35,000 entries per official snapshot)
_s = json.encoder.encode_basestring


def line_from_row(seq: int, time: str, role: str, kind: str, payload_text: str, prev: str, digest: str) -> str:
    """The published line of a stored row whose payload is already canonical JSON text.

    Members in canonical order (hash, kind, payload, prev, role, seq, time), so the line
    is canonical without parsing the payload again: this is the server's hot path.
    """
    return (f'{{"hash":{_s(digest)},"kind":{_s(kind)},"payload":{payload_text},"prev":{_s(prev)},'
            f'"role":{_s(role)},"seq":{int(seq)},"time":{_s(time)}}}')


def entry_bytes_from_row(seq: int, time: str, role: str, kind: str, payload_text: str, prev: str) -> bytes:
    """The canonical bytes of a stored entry (what its hash and leaf hash cover)."""
    return (f'{{"kind":{_s(kind)},"payload":{payload_text},"prev":{_s(prev)},'
            f'"role":{_s(role)},"seq":{int(seq)},"time":{_s(time)}}}').encode("utf-8")


def entry_line(entry: dict, digest: str | None = None) -> str:
    """The published line of an entry (with its ``hash`` member)."""
    return canonical_json({**entry, "hash": digest or entry_hash(entry)}).decode("utf-8")


class MemoryLog:
    """An append-only log held in memory: the same chaining as the server's
    ``append``, for tests, benchmarks and offline exports."""

    def __init__(self) -> None:
        self.entries: list[dict] = []
        self.hashes: list[str] = []
        self.tree = MerkleTree()

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def head(self) -> str:
        return self.hashes[-1] if self.hashes else GENESIS_PREV

    def append(self, role: str, kind: str, payload: dict, time: str | None = None) -> dict:
        entry = make_entry(len(self.entries), role, kind, payload, self.head, time)
        data = canonical_json(entry)
        self.entries.append(entry)
        self.hashes.append(hashlib.sha256(data).hexdigest())
        self.tree.append(hash_leaf(data))
        return entry

    def lines(self) -> Iterator[str]:
        for e, h in zip(self.entries, self.hashes):
            yield entry_line(e, h)


def write_lines(lines: Iterable[str], path) -> int:
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for line in lines:
            fh.write(line)
            fh.write("\n")
            n += 1
    return n
