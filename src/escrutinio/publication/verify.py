"""Verify a results log as it streams past: hash chain, Merkle tree heads, signed
checkpoints, and every total recomputed from the entries alone.

The verifier holds O(log n) hashes for the tree, one previous hash for the chain, and
the totals folded per area (see :mod:`escrutinio.publication.totals`): a log of a
million entries is checked in bounded memory.

What each failure means, and which entry it names:

- a line whose ``hash`` member differs from the hash of its content: that entry was
  altered after it was written;
- an entry whose ``prev`` differs from the previous entry's hash: the previous entry
  was altered (or this one's ``prev``): the earlier entry is named;
- a gap or a repeat in ``seq``: entries deleted, duplicated or reordered;
- a checkpoint whose root differs from the root of the first ``tree_size`` entries: one
  of the entries since the previous good checkpoint changed after it was signed (even
  if whoever changed it rewrote every later ``prev`` and ``hash``);
- a checkpoint larger than the log: entries that were signed are gone;
- a bad signature: the checkpoint was altered or forged.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from escrutinio.publication.checkpoint import Checkpoint, signature_problem
from escrutinio.publication.entry import ENTRY_KEYS, GENESIS_PREV, CanonicalError, canonical_json
from escrutinio.publication.merkle import CompactRange
from escrutinio.publication.totals import KNOWN_KINDS, RecordError, Totals, TotalsBuilder

PUBLIC_ROLES = frozenset({"admin", "coordinator", "typist", "watcher", "reader", "system"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NON_BMP = re.compile("[\U00010000-\U0010FFFF]")


@dataclass
class Problem:
    """One thing that does not hold. ``seq`` names the entry (when one is at fault),
    ``checkpoint`` the checkpoint (its id, or its position when it has none)."""

    what: str
    seq: int | None = None
    checkpoint: int | None = None
    #: (first, last) entries when the fault lies somewhere in a range and no single
    #: entry can be named (a rewritten chain that only a signed root catches)
    range: tuple[int, int] | None = None

    def to_dict(self) -> dict:
        out = {"seq": self.seq, "checkpoint": self.checkpoint, "what": self.what}
        if self.range is not None:
            out["range"] = list(self.range)
        return out

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"entry {self.seq}")
        elif self.range is not None:
            where.append(f"entries {self.range[0]}..{self.range[1]}")
        if self.checkpoint is not None:
            where.append(f"checkpoint {self.checkpoint}")
        return f"{', '.join(where) or 'log'}: {self.what}"


@dataclass
class LogReport:
    entries: int = 0
    root_hash: str = ""
    last_hash: str = GENESIS_PREV
    checkpoints_checked: int = 0
    last_checkpoint: Checkpoint | None = None
    unsigned_entries: int = 0
    kinds: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    totals: Totals | None = None
    comparisons: list[dict] = field(default_factory=list)  # filled by compare_totals
    truncated: bool = False  # more problems than were kept

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_entry(self) -> int | None:
        """The entry named by the first problem found in stream order."""
        return next((p.seq for p in self.problems if p.seq is not None), None)

    @property
    def first_bad_range(self) -> tuple[int, int] | None:
        """The range named by the first problem that names a range and no entry."""
        return next((p.range for p in self.problems if p.range is not None), None)

    def to_dict(self) -> dict:
        out = {
            "ok": self.ok,
            "entries": self.entries,
            "root_hash": self.root_hash,
            "last_hash": self.last_hash,
            "checkpoints_checked": self.checkpoints_checked,
            "last_checkpoint": self.last_checkpoint.to_dict() if self.last_checkpoint else None,
            "unsigned_entries": self.unsigned_entries,
            "kinds": dict(self.kinds),
            "first_bad_entry": self.first_bad_entry,
            "first_bad_range": list(self.first_bad_range) if self.first_bad_range else None,
            "problems": [p.to_dict() for p in self.problems],
            "problems_truncated": self.truncated,
            "warnings": self.warnings,
        }
        if self.comparisons:
            out["comparisons"] = self.comparisons
        if self.totals is not None:
            out["totals"] = self.totals.to_dict(levels=False)
        return out

    def summary(self) -> str:
        lines = []
        if self.ok:
            lines.append(f"OK: {self.entries:,} entries, hash chain intact, "
                         f"{self.checkpoints_checked} signed checkpoint(s) verified")
        else:
            first, span = self.first_bad_entry, self.first_bad_range
            lines.append(f"FAILED: {len(self.problems)}{'+' if self.truncated else ''} problem(s) in {self.entries:,} entries"
                         + (f"; first bad entry: {first}" if first is not None
                            else f"; an entry in {span[0]}..{span[1]} is at fault" if span else ""))
        lines.append(f"tree head: size {self.entries:,}, root {self.root_hash}")
        if self.last_checkpoint:
            cp = self.last_checkpoint
            lines.append(f"latest checkpoint: size {cp.tree_size:,}, time {cp.time}, key {cp.key_id}")
        if self.unsigned_entries:
            lines.append(f"{self.unsigned_entries:,} entries after the latest checkpoint are not yet signed")
        if self.kinds:
            lines.append("entries: " + ", ".join(f"{k} {n:,}" for k, n in sorted(self.kinds.items())))
        if self.totals is not None:
            for src in ("official", "copies"):
                for contest, t in self.totals.source(src).items():
                    tot = t.total()
                    lines.append(f"{src} totals recomputed from the log, {contest}: {tot['units']:,} actas, "
                                 f"valid {tot['valid']:,}, emitted {tot['emitted']:,}")
        agree = [c for c in self.comparisons if c["ok"]]
        if self.comparisons:
            lines.append(f"published totals compared: {len(agree)} of {len(self.comparisons)} match the log")
        for p in self.problems[:20]:
            lines.append(f"  - {p}")
        if len(self.problems) > 20:
            lines.append(f"  ... {len(self.problems) - 20} more (use --format json)")
        for w in self.warnings[:10]:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)


def _no_float(text: str) -> Any:
    raise CanonicalError(f"number {text} is not an integer (the log carries integers only)")


def _no_constant(text: str) -> Any:
    raise CanonicalError(f"{text} is not valid in the log")


def _refuse_duplicates(pairs: list) -> dict:
    out = {}
    for k, v in pairs:
        if k in out:
            raise CanonicalError(f"key {k!r} appears twice in one object")
        out[k] = v
    return out


def _canonical_text(obj: dict) -> str:
    """The canonical text of an object parsed from a line (floats already refused). For
    the log's restricted JSON, RFC 8785 and Python's sorted compact dumps agree except on
    the order of keys outside the Basic Multilingual Plane; those take the exact path."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if _NON_BMP.search(text):
        text = canonical_json(obj).decode("utf-8")
    return text


_HASH_PREFIX = '{"hash":"'


def parse_line(line: str | bytes) -> tuple[dict, bool, str | None]:
    """An entry from one JSON Lines line: (object, whether the line was canonical, the
    entry's canonical text without its ``hash`` member when cheaply known, else None)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8")
    line = line.rstrip("\r\n")
    obj = json.loads(line, parse_float=_no_float, parse_constant=_no_constant)
    if not isinstance(obj, dict):
        raise CanonicalError("the line is not a JSON object")
    if not _NON_BMP.search(line) and json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) == line:
        # Canonical: "hash" sorts first, so the entry's own text is the line without it.
        if "hash" not in obj:
            return obj, True, line
        if line.startswith(_HASH_PREFIX) and isinstance(obj["hash"], str) and len(obj["hash"]) == 64 and len(obj) > 1:
            return obj, True, "{" + line[len(_HASH_PREFIX) + 66:]
        return obj, True, None
    # Not canonical: make sure the parser did not silently drop a duplicate key.
    json.loads(line, parse_float=_no_float, parse_constant=_no_constant, object_pairs_hook=_refuse_duplicates)
    return obj, _canonical_text(obj) == line, None


_ENTRY_KEYSET = frozenset(ENTRY_KEYS)
_LINE_KEYSET = frozenset((*ENTRY_KEYS, "hash"))


def _shape_problem(obj: dict) -> str | None:
    keys = obj.keys()
    if keys != _LINE_KEYSET and keys != _ENTRY_KEYSET:
        extra = set(obj) - _LINE_KEYSET
        missing = [k for k in ENTRY_KEYS if k not in obj]
        return (f"an entry has exactly the keys {list(ENTRY_KEYS)} (+ optional hash); missing {missing}, "
                f"unexpected {sorted(extra)}")
    seq = obj["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        return f"seq {seq!r} is not a non-negative integer"
    for k in ("time", "role", "kind"):
        if not isinstance(obj[k], str):
            return f"{k} is not a string"
    if not isinstance(obj["payload"], dict):
        return "payload is not an object"
    if not isinstance(obj["prev"], str) or not _HEX64.fullmatch(obj["prev"]):
        return "prev is not 64 lowercase hex digits"
    if "hash" in obj and (not isinstance(obj["hash"], str) or not _HEX64.fullmatch(obj["hash"])):
        return "hash is not 64 lowercase hex digits"
    return None


class _Verifier:
    def __init__(self, public_key, checkpoints, totals, require_checkpoint, max_problems, observer=None):
        self.report = LogReport()
        self.observer = observer
        self.public_key = public_key
        self.require_checkpoint = require_checkpoint
        self.max_problems = max_problems
        self.tree = CompactRange()
        self.expected_seq = 0
        self.prev = GENESIS_PREV
        self.last_time = ""
        self.noncanonical = 0
        self.unknown_roles: set[str] = set()
        self.builder = TotalsBuilder() if totals else None
        self.badly_signed: set = set()
        self.checkpoints = self._prepare(checkpoints)
        self.next_cp = 0
        self.last_good_size = 0
        self._check_due_checkpoints()  # checkpoints of the empty tree

    def problem(self, what: str, seq: int | None = None, checkpoint: int | None = None,
                range: tuple[int, int] | None = None) -> None:
        if len(self.report.problems) >= self.max_problems:
            self.report.truncated = True
            return
        self.report.problems.append(Problem(what, seq, checkpoint, range))

    # ----------------------------------------------------------- checkpoints
    def _prepare(self, checkpoints) -> list[tuple[int, Checkpoint]]:
        cps = [cp if isinstance(cp, Checkpoint) else Checkpoint.from_dict(cp) for cp in checkpoints]
        labelled = [(cp.id if cp.id is not None else i, cp) for i, cp in enumerate(cps)]
        labelled.sort(key=lambda lc: (lc[1].tree_size, lc[1].time, lc[0]))
        for label, cp in labelled:
            if self.public_key is None:
                continue
            why = signature_problem(cp, self.public_key)
            if why:
                self.badly_signed.add(label)
                self.problem(why, checkpoint=label)
        if self.public_key is None and labelled:
            self.problem("no public key was given: checkpoint signatures cannot be checked")
        for (la, a), (lb, b) in zip(labelled, labelled[1:]):
            if a.tree_size == b.tree_size and a.root_hash != b.root_hash:
                self.problem(f"two checkpoints sign different roots for the same size {a.tree_size} "
                             f"(checkpoint {la}: {a.root_hash[:16]}..., checkpoint {lb}: {b.root_hash[:16]}...)",
                             checkpoint=lb)
            if b.time < a.time and b.tree_size > a.tree_size:
                self.problem(f"checkpoint {lb} (size {b.tree_size}) is dated {b.time}, before checkpoint {la} "
                             f"(size {a.tree_size}, {a.time})", checkpoint=lb)
        return labelled

    def _check_due_checkpoints(self) -> None:
        size = self.tree.size
        while self.next_cp < len(self.checkpoints) and self.checkpoints[self.next_cp][1].tree_size == size:
            label, cp = self.checkpoints[self.next_cp]
            self.next_cp += 1
            root = self.tree.root().hex()
            if root != cp.root_hash:
                first = self.last_good_size
                named = [p.seq for p in self.report.problems if p.seq is not None and first <= p.seq < size]
                if label in self.badly_signed:
                    # the checkpoint itself was edited: its signature no longer covers its
                    # root, so the entries are not what is at fault
                    self.problem(f"checkpoint {label} signs root {cp.root_hash}, not the entries' root {root}, and its "
                                 "signature does not verify: the checkpoint was edited, not the entries",
                                 checkpoint=label)
                else:
                    self.problem(
                        f"the first {size} entries have root {root}, but checkpoint {label} signed {cp.root_hash}: "
                        f"an entry in {first}..{size - 1} changed after the checkpoint was signed"
                        + (f" (entries before {first} match checkpoint {self._last_good_label})" if first else "")
                        + (f"; see entry {named[0]}" if named else ""),
                        checkpoint=label, seq=first if not named and size - first == 1 else None,
                        range=None if named or size - first == 1 else (first, size - 1))
            else:
                self.last_good_size = size
                self._last_good_label = label
                self.report.checkpoints_checked += self.public_key is not None and label not in self.badly_signed
            self.report.last_checkpoint = cp

    _last_good_label: int | None = None

    # --------------------------------------------------------------- entries
    def add(self, item) -> None:
        position = self.expected_seq
        known = None
        if isinstance(item, dict):
            obj, canonical = item, True
        else:
            text = item.decode("utf-8") if isinstance(item, bytes) else item
            if not text.strip():
                return
            try:
                obj, canonical, known = parse_line(text)
            except (ValueError, CanonicalError) as exc:
                self.problem(f"line after entry {position - 1} is not a valid log entry: {exc}", seq=position)
                self.expected_seq += 1
                return
        self.noncanonical += not canonical
        why = _shape_problem(obj)
        if why:
            seq = obj.get("seq") if isinstance(obj.get("seq"), int) else position
            self.problem(why, seq=seq)
            self.expected_seq = max(self.expected_seq, seq + 1) if isinstance(seq, int) else self.expected_seq + 1
            return
        seq = obj["seq"]
        entry = {k: obj[k] for k in ENTRY_KEYS}
        try:
            if known is not None:
                data = known.encode("utf-8")
            elif isinstance(item, dict):
                data = canonical_json(entry)
            else:
                data = _canonical_text(entry).encode("utf-8")
        except (CanonicalError, UnicodeEncodeError) as exc:
            self.problem(f"no canonical form: {exc}", seq=seq)
            self.expected_seq = seq + 1
            return
        digest = hashlib.sha256(data).hexdigest()
        gap = False
        if seq > self.expected_seq:
            missing = f"entry {self.expected_seq} is" if seq == self.expected_seq + 1 else \
                f"entries {self.expected_seq}..{seq - 1} are"
            self.problem(f"{missing} missing: entry {seq} follows entry {self.expected_seq - 1} "
                         f"(deleted, or the log is out of order)", seq=self.expected_seq)
            gap = True
        elif seq < self.expected_seq:
            self.problem(f"entry {seq} appears again after entry {self.expected_seq - 1} (duplicated or reordered)",
                         seq=seq)
            gap = True
        stored = obj.get("hash")
        altered = stored is not None and stored != digest
        if altered:
            self.problem(f"entry {seq}'s content hashes to {digest[:16]}..., but the log records {stored[:16]}...: "
                         f"it was altered after it was written (or moved: its seq is part of its content)", seq=seq)
        elif not gap and obj["prev"] != self.prev:
            if seq == 0:
                self.problem(f"the first entry's prev is {obj['prev'][:16]}..., not 64 zeros", seq=0)
            else:
                # This entry is intact (its own hash holds, when published), so the one
                # before no longer hashes to what was written then.
                self.problem(f"entry {seq - 1} does not hash to the prev that entry {seq} records "
                             f"({self.prev[:16]}... != {obj['prev'][:16]}...): entry {seq - 1} was altered, "
                             f"replaced or reordered after entry {seq} was written", seq=seq - 1)
        # The chain continues from what the next entry should reference, so one altered
        # entry is reported once rather than at every later entry.
        self.prev = stored if stored is not None else digest
        self.expected_seq = max(self.expected_seq, seq + 1)
        if obj["time"] < self.last_time:
            self._time_warning(seq)
        self.last_time = max(self.last_time, obj["time"])
        if obj["role"] not in PUBLIC_ROLES:
            self.unknown_roles.add(obj["role"])
        kind = obj["kind"]
        self.report.kinds[kind] += 1
        leaf = hashlib.sha256(b"\x00" + data).digest()
        self.tree.append(leaf)
        if self.observer is not None:
            self.observer(entry, leaf)
        self.report.entries += 1
        self.report.last_hash = self.prev
        if self.builder is not None and kind in KNOWN_KINDS:
            try:
                self.builder.add(entry)
            except RecordError as exc:
                self.problem(str(exc), seq=exc.seq)
        self._check_due_checkpoints()

    _time_warned = False

    def _time_warning(self, seq: int) -> None:
        if not self._time_warned:
            self._time_warned = True
            self.report.warnings.append(f"entry {seq} is dated before an earlier entry (server clocks disagree?)")

    def finish(self) -> LogReport:
        r = self.report
        r.root_hash = self.tree.root().hex()
        for label, cp in self.checkpoints[self.next_cp:]:
            gone = f"entry {self.tree.size} was" if cp.tree_size == self.tree.size + 1 else \
                f"entries {self.tree.size}..{cp.tree_size - 1} were"
            self.problem(f"checkpoint {label} signs {cp.tree_size} entries but the log has only {self.tree.size}: "
                         f"{gone} signed and no longer appear (deleted or truncated)",
                         seq=self.tree.size, checkpoint=label)
            r.last_checkpoint = cp
        if not self.checkpoints and self.require_checkpoint and self.tree.size:
            self.problem("no signed checkpoint covers this log: nothing proves who published it (save the server's "
                         "GET /api/v1/checkpoints as checkpoints.json next to the log, or give --checkpoints FILE)")
        covered = r.last_checkpoint.tree_size if r.last_checkpoint else 0
        r.unsigned_entries = max(0, self.tree.size - covered)
        if r.unsigned_entries and self.checkpoints:
            r.warnings.append(f"entries {covered}..{self.tree.size - 1} come after the latest checkpoint: "
                              "they are chained but not yet signed")
        if self.noncanonical:
            r.warnings.append(f"{self.noncanonical} line(s) are not in canonical form (verified from their parsed content)")
        if self.unknown_roles:
            r.warnings.append(f"roles other than the public ones appear: {sorted(self.unknown_roles)[:5]}")
        if self.builder is not None:
            for exc in self.builder.problems:
                self.problem(f"(snapshot entry {exc.seq}) {exc}")
            r.totals = self.builder.finish()
        return r


def verify_log(lines: Iterable[str | bytes | dict], public_key: Ed25519PublicKey | None = None,
               checkpoints: Sequence[Checkpoint | dict] = (), totals: bool = True,
               require_checkpoint: bool = True, max_problems: int = 1000, observer=None) -> LogReport:
    """Verify a log streamed as JSON Lines (or parsed entries), in bounded memory.

    ``checkpoints`` are checked against ``public_key`` and against the roots of the
    log's prefixes as it streams. ``totals`` recomputes every total from the entries
    (see :func:`escrutinio.publication.totals.recompute_totals`); compare them with what
    a server publishes with :func:`escrutinio.publication.compare.compare_totals`.
    ``observer(entry, leaf_hash)`` is called for every entry in log order.
    """
    v = _Verifier(public_key, checkpoints, totals, require_checkpoint, max_problems, observer)
    for item in lines:
        v.add(item)
    return v.finish()
