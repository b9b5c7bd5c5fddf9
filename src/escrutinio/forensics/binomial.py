"""Exact binomial pmf windows, shared by the round-number and digit tests.

For X ~ Bin(n, c/n) (a count resampled at its own observed rate) the pmf is computed over
k in [np - 6 sd - 1, np + 6 sd + 1] (the tail mass left out is about 1e-9) by a
log-space ratio recursion: two logs per cell instead of three lgammas. Pairs (n, c) are
processed in chunks of similar window width so that memory stays bounded.

Everything downstream works on *unique* (n, c) pairs: a national election has hundreds of
thousands of stations but at most a few tens of thousands of distinct (size, count) pairs,
and the placebo copies share them, so each pmf is computed once per run.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
from scipy.special import gammaln


def pmf_chunks(n, c, sds: float = 6.0, chunk_cells: int = 2_000_000, twice: bool = False
               ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(rows, k, pmf)``: ``rows`` indexes the input pairs, ``k`` and ``pmf`` are
    (len(rows), width) arrays; ``pmf`` is 0 outside a pair's window (there ``k`` is clipped
    to n).

    ``twice``: the pmf of a count redrawn twice, X1 ~ Bin(n, c/n) then X2 ~ Bin(n, X1/n),
    approximated by the beta-binomial with alpha + beta = n - 1 and alpha = (n - 1) c/n,
    which has X2's exact mean c and exact variance c (1 - c/n)(2 - 1/n) (the third
    cumulant differs by under 20 %). It costs one window per pair instead of one window
    per point of the first window, which on tables of thousands of voters was most of
    the battery's time; it only serves the bias correction of the digit null."""
    n = np.asarray(n, np.int64)
    c = np.asarray(c, np.int64)
    degenerate = (c <= 0) | (c >= n)
    rows = np.flatnonzero(degenerate)
    if len(rows):
        yield rows, np.clip(c[rows], 0, None)[:, None], np.ones((len(rows), 1))
    idx = np.flatnonzero(~degenerate)
    if not len(idx):
        return
    nn_all, pp_all, lo, hi, a, b, log0 = _window(n[idx], c[idx], sds, twice)
    if twice:
        logit = None
    else:
        log0 = (gammaln(nn_all + 1) - gammaln(lo + 1) - gammaln(nn_all - lo + 1)
                + lo * np.log(pp_all) + (nn_all - lo) * np.log1p(-pp_all))
        logit = np.log(pp_all) - np.log1p(-pp_all)
        a = b = None
        base = gammaln(nn_all + 1) + nn_all * np.log1p(-pp_all)
        log_fact = gammaln(np.arange(int(nn_all.max()) + 1) + 1.0)
    width = hi - lo + 1
    order = np.argsort(width, kind="stable")
    if twice:
        idx, nn_all, lo, hi, log0, a, b, width = (x[order] for x in (idx, nn_all, lo, hi, log0, a, b, width))
    else:
        idx, nn_all, lo, hi, logit, base, width = (x[order] for x in (idx, nn_all, lo, hi, logit, base, width))
    start = 0
    while start < len(idx):
        # sorted by window width: each chunk is as wide as its widest row
        stop = min(len(idx), start + max(1, chunk_cells // int(width[min(len(idx) - 1, start + 1)])))
        ww = int(width[stop - 1])
        stop = min(stop, start + max(1, chunk_cells // ww))
        sl = slice(start, stop)
        start = stop
        offs = np.arange(ww)
        nn = nn_all[sl][:, None]
        if twice:
            ks = lo[sl][:, None] + offs[None, :-1]
            # f(k+1)/f(k) = (n-k)/(k+1) * (k+alpha)/(n-k-1+beta)
            # one log per cell: the four factors multiplied first (all below 1e12)
            ratio = np.log(np.maximum(nn - ks, 1) * (ks + a[sl][:, None])
                           / ((ks + 1) * np.maximum(nn - ks - 1 + b[sl][:, None], 1e-300)))
            logpmf = np.empty((ks.shape[0], ww))
            logpmf[:, 0] = log0[sl]
            np.cumsum(ratio, axis=1, out=logpmf[:, 1:])
            logpmf[:, 1:] += log0[sl][:, None]
            kk = lo[sl][:, None] + offs[None, :]
        else:
            # log pmf = log n! - log k! - log (n-k)! + k logit p + n log(1-p), from a table of
            # log factorials: two look-ups per cell instead of two logs and a running sum
            kk = np.minimum(lo[sl][:, None] + offs[None, :], nn)
            logpmf = kk * logit[sl][:, None]
            logpmf += base[sl][:, None]
            logpmf -= log_fact[kk]
            logpmf -= log_fact[nn - kk]
        with np.errstate(over="ignore"):   # beyond a row's window the recursion is not used
            prob = np.where(lo[sl][:, None] + offs[None, :] <= hi[sl][:, None], np.exp(logpmf), 0.0)
        yield idx[sl], np.minimum(kk, nn), prob


def pmf_columns(n, c, sds: float = 6.0, chunk_cells: int = 1_000_000, twice: bool = False, align: int = 10
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The windows of :func:`pmf_chunks` (the same [lo, hi] per pair, the same ``twice``
    beta-binomial), laid out for classifying counts by their digits: yields ``(rows,
    start, prob)`` where ``prob`` is (width, len(rows)), column r holding the pmf of pair
    ``rows[r]`` at k = start[r] + j; ``start`` and ``width`` are multiples of ``align``
    (so that ``prob.reshape(width // align, align, -1)`` puts each block of ten counts on
    one axis and their last digit on the next) and ``prob`` is 0 outside the window.
    Degenerate pairs (c <= 0 or c >= n) come as one-point windows.

    Each column is the ratio recursion f(k+1)/f(k) from the window's first point, as a
    product (a cumulative product down the columns, contiguous across pairs) instead of
    a log-pmf and an exp per cell: the first point's pmf is :func:`pmf_chunks`' own, the
    others agree with it to about 1e-12 (relative; rounding of the products) and the
    window cells cost a few multiplications."""
    n = np.asarray(n, np.int64)
    c = np.asarray(c, np.int64)
    degenerate = (c <= 0) | (c >= n)
    rows = np.flatnonzero(degenerate)
    if len(rows):
        k = np.clip(c[rows], 0, None)
        start = k - k % align
        prob = np.zeros((align, len(rows)))
        prob[k - start, np.arange(len(rows))] = 1.0
        yield rows, start, prob
    idx = np.flatnonzero(~degenerate)
    if not len(idx):
        return
    nn_all, pp_all, lo, hi, a, b, log0 = _window(n[idx], c[idx], sds, twice)
    if twice:
        odds = None
    else:
        # the first point exactly as pmf_chunks computes it
        logit = np.log(pp_all) - np.log1p(-pp_all)
        base = gammaln(nn_all + 1) + nn_all * np.log1p(-pp_all)
        # (pmf_chunks looks log k! up in a table of gammaln(k + 1.0): the same values)
        log0 = lo * logit + base
        log0 -= gammaln(lo + 1.0)
        log0 -= gammaln(nn_all - lo + 1.0)
        odds = pp_all / (1 - pp_all)
        a = b = np.zeros(len(idx))
    start = lo - lo % align
    width = -((start - hi - 1) // align) * align   # hi - start + 1 rounded up
    order = np.argsort(width, kind="stable")
    idx, nn_all, lo, hi, log0, start, width, a, b = (x[order] for x in (idx, nn_all, lo, hi, log0, start, width, a, b))
    if odds is not None:
        odds = odds[order]
    pos = 0
    while pos < len(idx):
        ww = int(width[pos])
        stop = min(len(idx), pos + max(1, chunk_cells // ww))
        ww = int(width[stop - 1])
        stop = min(stop, pos + max(1, chunk_cells // ww))
        sl = slice(pos, stop)
        pos = stop
        st, nn = start[sl], nn_all[sl]
        # k of each step k -> k + 1 (exact in floating point)
        kf = st.astype(float)[None, :] + np.arange(ww - 1, dtype=float)[:, None]
        prob = np.empty((ww, stop - sl.start))
        prob[0] = 1.0
        ratio = prob[1:]   # f(k+1)/f(k) in place, then multiplied down the column
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # beyond a window's end only, zeroed below
            np.subtract(nn.astype(float), kf, out=ratio)   # n - k
            if twice:
                # f(k+1)/f(k) = (n-k)/(k+1) * (k+alpha)/(n-k-1+beta): pmf_chunks' factors, whose
                # guards (n - k >= 1, n - k - 1 + beta > 0) hold inside every window
                den = ratio - 1
                den += b[sl]
                ratio *= kf + a[sl]
                kf += 1
                den *= kf
                ratio /= den
                del den
            else:
                ratio *= odds[sl]
                kf += 1
                ratio /= kf
            del kf
            # one row at a time: numpy's cumprod down axis 0 is several times slower
            for i in range(1, ww):
                np.multiply(prob[i], prob[i - 1], out=prob[i])
        j0 = lo[sl] - st
        prob *= (np.exp(log0[sl]) / prob[j0, np.arange(len(st))])[None, :]
        # zero the (at most nine) cells before each window and those after it; only the
        # rows where some window has not begun or has ended are touched
        head = int(j0.max())
        if head:
            np.copyto(prob[:head], 0.0, where=np.arange(head)[:, None] < j0[None, :])
        last = hi[sl] - st
        tail = int(last.min()) + 1
        if tail < ww:
            np.copyto(prob[tail:], 0.0, where=np.arange(tail, ww)[:, None] > last[None, :])
        yield idx[sl], st, prob


def grid_positions(n: np.ndarray, c: np.ndarray, size: int | None) -> np.ndarray | None:
    """Row of each pair in the :func:`grid_pairs` table of ``size``, by arithmetic instead
    of a search (None when some pair lies outside the grid)."""
    if size is None or not len(n):
        return None
    n = np.asarray(n, np.int64)
    c = np.asarray(c, np.int64)
    if n.max() > size or n.min() < 0 or c.min() < 0 or (c > n).any():
        return None
    return n * (n + 1) // 2 + c


def pair_keys(n: np.ndarray, c: np.ndarray) -> np.ndarray:
    """One int64 key per (n, c) pair (n, c < 2**31)."""
    return (np.asarray(n, np.int64) << 32) | np.asarray(c, np.int64)


def split_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return keys >> 32, keys & 0xFFFFFFFF


def grid_pairs(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (n, c) with 0 <= c <= n <= size, in key order: (keys, n, c, offset) where
    the pair (n, c) sits at offset[n] + c."""
    sizes = np.arange(size + 1)
    offset = np.concatenate([[0], np.cumsum(sizes + 1)[:-1]])
    n = np.repeat(sizes, sizes + 1)
    c = np.arange(len(n)) - offset[n]
    return pair_keys(n, c), n, c, offset


def unique_pairs(n, c) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (n, c) keys and how many times each occurs; a dense bincount when sizes are
    small (the usual case: tables of a few hundred voters), else a sort."""
    n = np.asarray(n, np.int64)
    c = np.asarray(c, np.int64)
    if not len(n):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    top = int(max(n.max(), c.max())) + 1
    if top * top <= 4_000_000 and n.min() >= 0 and c.min() >= 0:
        counts = np.bincount(n * top + c, minlength=top * top)
        dense = np.flatnonzero(counts)
        return pair_keys(dense // top, dense % top), counts[dense]
    return np.unique(pair_keys(n, c), return_counts=True)


class HitCache:
    """Hit probabilities of each distinct (n, k) pair, kept across the election and its
    placebo copies so that each binomial pmf is computed once per run."""

    def __init__(self, hits, sds: float = 6.0):
        import threading

        self.hits = list(hits)
        self.sds = sds
        self._lock = threading.Lock()   # placebo copies run in threads and extend the table
        self.keys = np.zeros(0, np.int64)
        self.q = np.zeros((len(self.hits), 0))
        self.grid_size: int | None = None

    def prepare_grid(self, size: int) -> "HitCache":
        """Hit probabilities of every pair with 0 <= c <= n <= ``size`` at once."""
        keys, n, c, _ = grid_pairs(size)
        q = np.zeros((len(self.hits), len(keys)))
        for rows, kk, prob in pmf_chunks(n, c, self.sds):
            nn = np.maximum(n[rows], 1)[:, None]
            for j, hit in enumerate(self.hits):
                q[j, rows] = (prob * hit(kk, nn)).sum(axis=1)
        self.keys, self.q = keys, np.clip(q, 0.0, 1.0)
        self.grid_size = size
        return self

    def __call__(self, n, c) -> list[np.ndarray]:
        pos = grid_positions(n, c, self.grid_size)
        if pos is not None:
            return [row[pos] for row in self.q]
        keys = pair_keys(n, c)
        new, _ = unique_pairs(n, c)
        with self._lock:
            self.grid_size = None   # the table grows beyond the grid: keys are searched from now on
            new = _missing(self.keys, new)
        if len(new):
            # the pmfs are computed outside the lock (placebo copies run in threads)
            q = self._hits_of(new)
            with self._lock:
                self._merge(new, q)
        with self._lock:
            table_keys, table_q = self.keys, self.q
        # sorted queries: one search per distinct pair, in cache order
        uniq, inverse = np.unique(keys, return_inverse=True)
        pos = np.searchsorted(table_keys, uniq)[inverse]
        return [row[pos] for row in table_q]

    # hit tables cover sizes up to this (every (n, k) with k <= n: 12.5 million cells, one
    # byte per hit function); larger tables are tested cell by cell
    TABLE_MAX = 5000

    def _hit_table(self, top: int):
        """hit(k, n) for every 0 <= k <= n <= ``top``, one flat uint8 array per hit function,
        at offset n (n + 1) / 2 + k: a look-up per pmf cell instead of integer arithmetic
        (the placebo copies of a country of large tables evaluate tens of millions of cells)."""
        have = getattr(self, "_table", None)
        if have is not None and have[0] >= top:
            return have
        top = max(top, have[0] if have is not None else 0)
        size = (top + 1) * (top + 2) // 2
        tables = [np.empty(size, np.uint8) for _ in self.hits]
        lo = 0
        while lo <= top:   # a few million cells at a time: the build's temporaries stay small
            hi = lo
            while hi <= top and (hi * (hi + 1) - lo * (lo + 1)) // 2 < 2_000_000:
                hi += 1
            hi = max(hi, lo + 1)
            sizes = np.arange(lo, hi, dtype=np.int64)
            n = np.repeat(sizes, sizes + 1)
            start = lo * (lo + 1) // 2
            c = np.arange(len(n), dtype=np.int64) - (np.repeat(sizes * (sizes + 1) // 2, sizes + 1) - start)
            for tab, hit in zip(tables, self.hits):
                tab[start:start + len(n)] = hit(c, np.maximum(n, 1))
            lo = hi
        self._table = (top, tables)
        return self._table

    def _extend(self, new: np.ndarray) -> None:
        new = _missing(self.keys, new)
        if len(new):
            self._merge(new, self._hits_of(new))

    def _merge(self, new: np.ndarray, q: np.ndarray) -> None:
        fresh = np.isin(new, _missing(self.keys, new))
        new, q = new[fresh], q[:, fresh]
        if len(new):
            self.keys, (q_all,) = merge_sorted(self.keys, new, [self.q.T], [q.T])
            self.q = q_all.T

    def _hits_of(self, new: np.ndarray) -> np.ndarray:
        """Hit probabilities (hits x pairs) of the sorted pair keys ``new``."""
        un, uc = split_keys(new)
        q = np.zeros((len(self.hits), len(new)))
        small = un <= self.TABLE_MAX
        top = int(un[small].max()) if small.any() else 0
        table = self._hit_table(top) if top else None
        if table is not None:
            # pairs the table covers: pmf columns (cumulative products, no exp per cell)
            # and one look-up per cell and hit function
            inside = np.flatnonzero(small)
            for rows, start, prob in pmf_columns(un[inside], uc[inside], self.sds):
                nn = np.maximum(un[inside[rows]], 1)
                kk = np.minimum(start[None, :] + np.arange(prob.shape[0])[:, None], nn[None, :])
                kk += (nn * (nn + 1) // 2)[None, :]
                for j, tab in enumerate(table[1]):
                    q[j, inside[rows]] = (prob * tab[kk]).sum(axis=0)
            un_rest = np.flatnonzero(~small)
        else:
            un_rest = np.arange(len(new))
        if len(un_rest):
            for rows, kk, prob in pmf_chunks(un[un_rest], uc[un_rest], self.sds):
                nn = np.maximum(un[un_rest[rows]], 1)[:, None]
                for j, hit in enumerate(self.hits):
                    q[j, un_rest[rows]] = (prob * hit(kk, nn)).sum(axis=1)
        return np.clip(q, 0.0, 1.0)


def merge_sorted(keys: np.ndarray, new: np.ndarray, tables: list, new_tables: list, dtype=None):
    """The sorted keys ``keys`` and the sorted ``new`` keys (none in ``keys``) merged, with
    the rows of each table in ``tables`` and ``new_tables`` placed alike: one pass and one
    copy of the tables, where concatenating and sorting again copied them three times
    (a country of large tables and its placebo copies hold a million pairs)."""
    at = np.searchsorted(keys, new) + np.arange(len(new))
    is_new = np.zeros(len(keys) + len(new), bool)
    is_new[at] = True
    out_keys = np.empty(len(is_new), keys.dtype if len(keys) else new.dtype)
    out_keys[at] = new
    out_keys[~is_new] = keys
    out = []
    for old_t, new_t in zip(tables, new_tables):
        t = np.empty((len(is_new),) + old_t.shape[1:], dtype or np.result_type(old_t, new_t))
        t[at] = new_t
        t[~is_new] = old_t
        out.append(t)
    return out_keys, out


def _missing(keys: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The sorted unique ``new`` keys that the sorted table ``keys`` lacks."""
    if not len(keys) or not len(new):
        return new
    pos = np.minimum(np.searchsorted(keys, new), len(keys) - 1)
    return new[keys[pos] != new]


def hit_probability_pairs(n, c, hits, sds: float = 6.0) -> list[np.ndarray]:
    """P(hit(X, n)) for X ~ Bin(n, c/n) per pair and per hit function, computed once per
    unique pair."""
    keys = pair_keys(n, c)
    uniq, inverse = np.unique(keys, return_inverse=True)
    un, uc = split_keys(uniq)
    outs = [np.zeros(len(uniq)) for _ in hits]
    for rows, kk, prob in pmf_chunks(un, uc, sds):
        nn = np.maximum(un[rows], 1)[:, None]
        for out, hit in zip(outs, hits):
            out[rows] = (prob * hit(kk, nn)).sum(axis=1)
    return [np.clip(o, 0.0, 1.0)[inverse] for o in outs]


def _window(nn_all: np.ndarray, c: np.ndarray, sds: float, twice: bool):
    """The [lo, hi] window of each non-degenerate pair (``sds`` standard deviations of the
    binomial, or of the twice-redrawn beta-binomial, plus one), with the beta-binomial's
    a, b and log-pmf at lo when ``twice`` (None otherwise): pmf_chunks and pmf_columns
    must agree on it to the last bit."""
    pp_all = c / nn_all
    sd = np.sqrt(nn_all * pp_all * (1 - pp_all))
    if twice:
        sd = sd * np.sqrt(2 - 1 / nn_all)
    lo = np.maximum(0, np.floor(nn_all * pp_all - sds * sd - 1)).astype(np.int64)
    hi = np.minimum(nn_all, np.ceil(nn_all * pp_all + sds * sd + 1)).astype(np.int64)
    if not twice:
        return nn_all, pp_all, lo, hi, None, None, None
    a = (nn_all - 1) * pp_all
    b = (nn_all - 1) * (1 - pp_all)
    log0 = (gammaln(nn_all + 1) - gammaln(lo + 1) - gammaln(nn_all - lo + 1)
            + gammaln(lo + a) + gammaln(nn_all - lo + b) - gammaln(nn_all + a + b)
            - gammaln(a) - gammaln(b) + gammaln(a + b))
    return nn_all, pp_all, lo, hi, a, b, log0
