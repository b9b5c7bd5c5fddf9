"""Reproducible sampling from a public seed with SHA-256.

Two generators, both documented to the byte in docs/audit.md so that an observer can
reproduce a sample in any language:

1. **Rivest's consistent sampler** (R. L. Rivest, "consistent_sampler", 2018, MIT
   licence; this is an independent implementation of its published description).
   Each id gets a ticket number, a decimal fraction in (0, 1):

   ``ticket(id) = "0." + reverse(decimal(int(SHA256(hex(SHA256(str(seed))) + str(id)), 16)))``

   where ``hex`` is the 64-character lower-case hex digest, strings are UTF-8, and
   ``decimal`` is the base-10 integer left-padded with zeros to at least 64 digits
   (reversing puts the unbiased low-order digits first). Tickets compare as strings.
   Sampling without replacement takes ids by increasing ticket. With replacement, a drawn
   id gets its next-generation ticket ``y > x``: keep the prefix of ``x`` up to and
   excluding its first non-9 digit after "0." (``x + "0"`` if all are 9), and append the
   digits (after "0.") of ``uniform(x + ":" + str(i))`` for ``i = 1, 2, ...`` until the
   result exceeds ``x + "0"``; ``uniform(s)`` is the ticket formula's reversed-decimal
   transform of ``SHA256(s)``.

   Consistency: the order of any subset is the order the full set induces on it, so the
   sample of a stratum is the stratum's part of the national sample.

2. **SHA-256 counter mode** (in the spirit of Ottoboni & Stark's ``cryptorandom``):
   draw ``k = 0, 1, 2, ...`` is ``H_k = int(SHA256(str(seed) + "," + str(k)), 16)``, a
   256-bit integer. A uniform integer below ``n`` rejects ``H_k >= 2**256 - (2**256 mod n)``
   and returns ``H_k mod n``. A uniform real for weighted draws is ``(H_k >> 203) / 2**53``
   (an exact float64 in [0, 1)); weighted (PPS) draws pick the first unit whose
   cumulative weight share exceeds it.
"""
from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from escrutinio.errors import UsageError

TWO_256 = 1 << 256


def sha256_hex(text: str) -> str:
    return hashlib.sha256(str(text).encode("utf-8")).hexdigest()


def sha256_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(str(text).encode("utf-8")).digest(), "big")


def _uniform_string(text: str) -> str:
    digits = "{:064d}".format(int(sha256_hex(text), 16))
    return "0." + digits[::-1]


def first_ticket(item_id: str, seed: str) -> str:
    """Generation-1 ticket number of ``item_id`` (a decimal string in (0, 1))."""
    return _uniform_string(sha256_hex(str(seed)) + str(item_id))


def next_ticket(x: str) -> str:
    """A pseudo-random ticket number above ``x`` (next generation)."""
    if not x.startswith("0."):
        raise ValueError(f"not a ticket number: {x!r}")
    x0 = x + "0"
    first_non_9 = next(i for i in range(2, len(x0)) if x0[i] < "9")
    prefix = x0[:first_non_9]
    i = 0
    y = "0."
    while y <= x0:
        i += 1
        y = prefix + _uniform_string(x + ":" + str(i))[2:]
    return y


@dataclass(frozen=True, order=True)
class Ticket:
    number: str
    id: str
    generation: int = 1

    def to_dict(self) -> dict:
        return {"ticket": self.number, "id": self.id, "generation": self.generation}


def tickets(ids: Iterable[str], seed) -> Iterator[Ticket]:
    """Consistent sampler: ids in draw order with their tickets (without replacement)."""
    ids = [str(i) for i in ids]
    _check_unique(ids)
    yield from sorted(Ticket(first_ticket(i, seed), i) for i in ids)


def consistent_sample(ids: Iterable[str], seed, n: int | None = None,
                      with_replacement: bool = False) -> list[Ticket]:
    """The first ``n`` draws of Rivest's consistent sampler (all ids if ``n`` is None and
    sampling is without replacement)."""
    ids = [str(i) for i in ids]
    _check_unique(ids)
    if not with_replacement:
        out = sorted(Ticket(first_ticket(i, seed), i) for i in ids)
        return out if n is None else out[:n]
    if n is None:
        raise UsageError("sampling with replacement needs n")
    heap = [Ticket(first_ticket(i, seed), i) for i in ids]
    heapq.heapify(heap)
    out = []
    for _ in range(n):
        t = heapq.heappop(heap)
        out.append(t)
        heapq.heappush(heap, Ticket(next_ticket(t.number), t.id, t.generation + 1))
    return out


def _check_unique(ids: Sequence[str]) -> None:
    if len(set(ids)) != len(ids):
        seen, dup = set(), []
        for i in ids:
            if i in seen:
                dup.append(i)
            seen.add(i)
        raise UsageError(f"duplicate ids in the manifest: {dup[:5]}")


# ---------------------------------------------------------- counter mode
class SHA256Counter:
    """SHA-256 in counter mode: ``H_k = SHA256(str(seed) + "," + str(k))``."""

    def __init__(self, seed, counter: int = 0):
        self.seed = str(seed)
        self.counter = counter

    def next_int256(self) -> int:
        h = sha256_int(f"{self.seed},{self.counter}")
        self.counter += 1
        return h

    def randbelow(self, n: int) -> int:
        if n <= 0:
            raise UsageError("n must be positive")
        limit = TWO_256 - (TWO_256 % n)
        while True:
            h = self.next_int256()
            if h < limit:
                return h % n

    def random(self) -> float:
        return (self.next_int256() >> 203) / float(1 << 53)


@dataclass
class Draw:
    index: int
    id: str
    counter: int
    value: str

    def to_dict(self) -> dict:
        return {"draw": self.index, "id": self.id, "counter": self.counter, "value": self.value}


def sample_with_replacement(ids: Sequence[str], seed, n: int) -> list[Draw]:
    """``n`` uniform draws with replacement, each recorded with its counter."""
    ids = [str(i) for i in ids]
    _check_unique(ids)
    gen = SHA256Counter(seed)
    out = []
    for k in range(n):
        start = gen.counter
        j = gen.randbelow(len(ids))
        out.append(Draw(k + 1, ids[j], start, str(j)))
    return out


def sample_pps(ids: Sequence[str], weights: Sequence[float], seed, n: int) -> list[Draw]:
    """``n`` draws with replacement, probability proportional to ``weights`` (for MACRO:
    the batches' error bounds). Cumulative shares are float64 sums in the given order."""
    ids = [str(i) for i in ids]
    _check_unique(ids)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(ids),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise UsageError("weights must be one finite non-negative number per id, not all zero")
    cum = np.cumsum(w) / w.sum()
    gen = SHA256Counter(seed)
    out = []
    for k in range(n):
        start = gen.counter
        r = gen.random()
        j = int(np.searchsorted(cum, r, side="right"))
        j = min(j, len(ids) - 1)
        while w[j] == 0:  # float rounding at the edge must never pick a zero-weight unit
            j -= 1
        out.append(Draw(k + 1, ids[j], start, repr(r)))
    return out


def manifest_hash(ids: Sequence[str], ballots: Sequence[int] | None = None) -> str:
    """SHA-256 of the manifest as UTF-8 text, one ``id,ballots`` line per unit in the
    given order, each line ending in ``\\n``."""
    if ballots is None:
        text = "".join(f"{i}\n" for i in ids)
    else:
        text = "".join(f"{i},{int(b)}\n" for i, b in zip(ids, ballots))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
