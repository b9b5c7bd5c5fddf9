"""One entry of the results log, and the canonical bytes everything is hashed over.

The canonical form is RFC 8785 (JCS) restricted to what the log carries: objects,
arrays, strings, integers, booleans and null. Floats are refused rather than
canonicalised, because votes are integers and a float in the log would make two
honest verifiers disagree about its digits.

An entry is the object::

    {"seq": 0, "time": "2026-11-30T09:38:26.123456Z", "role": "admin",
     "kind": "official_record", "payload": {...}, "prev": "<64 hex>"}

``prev`` is the SHA-256 (hex) of the previous entry's canonical bytes, or 64 zeros for
the first entry. The entry's own hash is SHA-256 of its canonical bytes; its Merkle leaf
hash is SHA-256(0x00 || canonical bytes), as in RFC 6962.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any

GENESIS_PREV = "0" * 64
ENTRY_KEYS = ("seq", "time", "role", "kind", "payload", "prev")


class CanonicalError(ValueError):
    """A value that has no canonical form in the log (a float, a non-string key...)."""


def _check(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise CanonicalError(f"{where}: floats are not allowed in the log (got {value!r}); use integers or strings")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(f"{where}: object keys must be strings (got {key!r})")
            _check(item, f"{where}.{key}")
        return
    raise CanonicalError(f"{where}: {type(value).__name__} has no canonical JSON form")


def _sort_key(key: str) -> bytes:
    # JCS orders member names by their UTF-16 code units, which differs from code-point
    # order only for characters outside the Basic Multilingual Plane.
    return key.encode("utf-16-be")


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value, key=_sort_key)):
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        # bool before int: True is an int in Python.
        out.append("true" if value is True else "false" if value is False else json.dumps(value, ensure_ascii=False))


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of a float-free JSON value.

    Through the C encoder when nothing in its output is at or above U+D800: with floats
    refused by the check, the two forms then differ in nothing (member names sort the
    same by code point as by UTF-16 code unit). Every entry and audit row is hashed
    over these bytes under the writer lock, where the pure-Python form cost about a
    sixth of an entry's CPU (issue 26). Otherwise, the exact path."""
    _check(value, "$")
    fast = _ENCODER.encode(value)
    if fast.isascii() or not _HIGH.search(fast):
        return fast.encode("utf-8")
    return _exact(value)


def _exact(value: Any) -> bytes:
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def _refuse(text: str):
    raise CanonicalError(f"not allowed in the log: {text}")


_DECODER = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
_HIGH = re.compile("[\ud800-\U0010ffff]")


def parse_canonical(text: str) -> tuple[bool, Any]:
    """(True, value of ``text``) when ``text`` is its value's canonical JSON, else (False, None).

    Equal to ``canonical_json(json.loads(text)) == text`` but through the C encoder
    (about 6 times faster; a snapshot's 35,000 records are re-checked before their
    checkpoint is signed): with floats refused at parsing, the two forms differ only in
    the order of member names, which is the same in code points as in UTF-16 code units
    unless a character at or above U+D800 occurs, and then the exact path is taken.
    """
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return False, None
    if text.isascii() or not _HIGH.search(text):
        fast = _ENCODER.encode(value)
    else:
        try:
            fast = canonical_json(value).decode("utf-8")
        except CanonicalError:
            return False, None
    return (True, value) if fast == text else (False, None)


def utc_now() -> str:
    """The log's time format: UTC, microseconds, trailing Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_entry(seq: int, role: str, kind: str, payload: dict, prev: str, time: str | None = None) -> dict:
    return {"seq": int(seq), "time": time or utc_now(), "role": role, "kind": kind, "payload": payload, "prev": prev}


def entry_hash(entry: dict) -> str:
    """SHA-256 (hex) of the entry's canonical bytes: the next entry's ``prev``."""
    return hashlib.sha256(canonical_json(entry)).hexdigest()


def leaf_hash(entry: dict) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || canonical bytes)."""
    return hashlib.sha256(b"\x00" + canonical_json(entry)).digest()
