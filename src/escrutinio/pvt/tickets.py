"""Rivest's consistent sampler, vectorised: the same order as
:func:`escrutinio.audit.sampling.first_ticket`, without building 80-digit strings.

A ticket is ``"0." + reverse(decimal(g))`` with ``g = int(SHA256(hex(SHA256(seed)) + id))``
(decimal left-padded to 64 digits). Tickets compare as strings, so their order is the
lexicographic order of ``g``'s decimal digits read from the least significant one. We
compute the first 9 of those digits (``g mod 10**9``, reversed) with exact 64-bit integer
arithmetic on the digest's eight 32-bit limbs, sort on them, and settle the few tickets
that share those 9 digits (about ``N**2 / 2e9`` pairs: ~500 at a million tables) with the
audit sampler's full ticket strings, so the order is exactly the audit sampler's.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from escrutinio.audit.sampling import first_ticket, sha256_hex

_BILLION = np.uint64(10**9)
_SHIFT = np.uint64(32)


def digests(ids: Sequence[str] | Sequence[bytes], seed) -> np.ndarray:
    """SHA-256 of ``hex(SHA256(str(seed))) + id`` for every id (str, or UTF-8 bytes
    already encoded): an (N, 8) uint64 array of the digest's big-endian 32-bit limbs."""
    prefix = sha256_hex(str(seed))
    sha = hashlib.sha256
    if len(ids) and isinstance(ids[0], str):
        raw = b"".join([sha((prefix + i).encode("utf-8")).digest() for i in ids])
    else:
        pb = prefix.encode("ascii")
        raw = b"".join([sha(pb + i).digest() for i in ids])
    return np.frombuffer(raw, dtype=">u4").reshape(-1, 8).astype(np.uint64)


def _mod_billion(limbs: np.ndarray) -> np.ndarray:
    """``g mod 10**9`` by Horner's rule over big-endian 32-bit limbs; ``rem < 2**30`` so
    ``rem * 2**32 + limb < 2**62`` never overflows."""
    rem = np.zeros(limbs.shape[0], dtype=np.uint64)
    for k in range(limbs.shape[1]):
        cur = (rem << _SHIFT) + limbs[:, k]
        rem = cur - (cur // _BILLION) * _BILLION
    return rem


def _reverse9(r: np.ndarray) -> np.ndarray:
    """The 9-digit zero-padded decimal of ``r`` reversed, as an integer."""
    ten = np.uint64(10)
    out = np.zeros_like(r)
    for _ in range(9):
        q = r // ten
        out = out * ten + (r - q * ten)
        r = q
    return out


def order_keys(limbs: np.ndarray) -> np.ndarray:
    """The first 9 digits (after ``0.``) of each ticket, as uint64 integers."""
    return _reverse9(_mod_billion(limbs))


def ticket_order(ids: Sequence[str], seed, encoded: Sequence[bytes] | None = None, strings: bool = False) -> np.ndarray:
    """Indexes of ``ids`` in increasing ticket order (the consistent sampler's draw
    order). ``encoded``: the ids as UTF-8 bytes, when the caller reuses them across seeds;
    ``strings``: the caller guarantees the ids are already ``str``."""
    ids = ids if (encoded is not None or strings) else [str(i) for i in ids]
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    keys = order_keys(digests(encoded if encoded is not None else ids, seed))
    order = np.argsort(keys)  # equal keys are re-ordered below, so no need for a stable sort
    sk = keys[order]
    tied = np.flatnonzero(sk[1:] == sk[:-1])
    if tied.size:
        # Ties on 9 digits: settle each run of equal keys with the full ticket strings.
        for start in np.unique(tied[np.r_[True, sk[tied[1:]] != sk[tied[:-1]]]]):
            stop = start + 1
            while stop < len(sk) and sk[stop] == sk[start]:
                stop += 1
            members = order[start:stop]
            order[start:stop] = sorted(members, key=lambda j: first_ticket(str(ids[j]), seed))
    return order


def pick(order: np.ndarray, codes: np.ndarray, sizes: np.ndarray, take: np.ndarray) -> np.ndarray:
    """The selection rule: in each stratum ``h`` (``codes``, with ``sizes[h]`` tables) the
    ``take[h]`` tables that come first in ``order``. Returns their indexes in ``order``'s
    (national ticket) order."""
    codes_ord = codes[order]
    small = codes_ord.astype(np.int16) if len(sizes) < 2 ** 15 else codes_ord  # radix sort
    by_stratum = np.argsort(small, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(len(order), dtype=np.int64)
    rank[by_stratum] = np.arange(len(order)) - starts[codes_ord[by_stratum]]
    return order[rank < take[codes_ord]]


def tickets_for(ids: Sequence[str], seed) -> list[str]:
    """Full ticket strings (for display and the worked example)."""
    return [first_ticket(str(i), seed) for i in ids]
