"""Digit tests on table-level vote counts.

* Second-digit Benford (2BL) mean and distribution: Mebane, W. R. (2006), "Election
  forensics: vote counts and Benford's law", Summer Meeting of the Political Methodology
  Society; Pericchi & Torres (2011), Statistical Science 26(4).
* Last digit, mean last digit, counts ending in 0 or 5, and last-two-digit pair tests
  (repeated and adjacent digits): Beber, B. & Scacco, A. (2012), "What the numbers say:
  a digit-based test for election fraud", Political Analysis 20(2), 211-234.
* Why two nulls: Deckert, J., Myagkov, M. & Ordeshook, P. C. (2011), "Benford's law and
  the detection of election fraud", Political Analysis 19(3), 245-268, show that 2BL
  rejects for clean elections because real counts are not Benford-distributed.

Units: every (station, counted choice) vote count of at least ``min_count`` (default 10,
so that a second and a penultimate digit exist), from stations with valid votes.

Two nulls for every test:

* classical: the textbook digit law (Benford's second-digit law; uniform last digit;
  last two digits uniform on 00-99), counts treated as independent;
* simulated: each count is redrawn as Binomial(valid_i, count_ij/valid_i) at its own
  station's observed rate (binomial resampling); the count threshold is applied after
  resampling. The statistics only depend on how many redrawn counts fall in each digit
  class (second digit 0-9, last digit 0-9, last two digits equal / adjacent / other, or
  below the threshold), so the null is computed from histograms: for every distinct
  (valid, count) pair the exact binomial pmf gives its class probabilities, the class
  counts of the whole election are sums of independent categorical draws with exact
  mean and covariance, and each of the S draws is a draw of those sums (normal: the sums
  run over tens of thousands of counts). The statistic is recomputed on every draw; no
  count is resampled one by one, so S costs nothing and the cost does not grow with the
  number of stations beyond one histogram pass. For means and shares the p-value is a t
  prediction tail from the draws' mean and sd rather than their rank, which could not go
  below 1/(S+1) and so could never survive Holm. For the two chi-square tests the rank
  p-value is kept: the smooth alternative (an F tail against moment-matched simulated
  distances, ``p_smooth`` in the details) was anti-conservative in the calibration study
  (false-positive rates 0.105 and 0.115 at alpha 0.05). Because
  resampling around noisy observed rates adds a second layer of binomial noise, every
  simulated statistic is shifted by the change one more generation of resampling
  produces (computed exactly: the class probabilities of a count redrawn twice are the
  pmf-weighted class probabilities of its redraws) (bootstrap bias correction, Efron & Tibshirani 1993, ch. 10). This null keeps
  the election's own heterogeneity: it asks "are the digits what counting noise around
  these rates produces?"

Recommended: the simulated null for 2BL (Deckert et al. 2011); both agree for
last-digit tests on counts >= 10 except where many counts are small, where the classical
uniform law is itself wrong and the simulated one should be used.
"""
from __future__ import annotations

import numpy as np
from escrutinio.forensics import _stats as stats

from escrutinio.forensics.core import StationData, TestResult, chi2_p_value, mc_p_value, smooth_p_value

BENFORD2 = np.array([sum(np.log10(1 + 1 / (10 * k + d)) for k in range(1, 10)) for d in range(10)])
CITE_2BL = "Mebane (2006); Deckert, Myagkov & Ordeshook (2011), Political Analysis 19(3)"
CITE_BS = "Beber & Scacco (2012), Political Analysis 20(2):211-234"


def _digit_tables(vmax: int):
    """Lookup tables from a count value to its second, last and penultimate digits."""
    v = np.arange(vmax + 1)
    nd = np.where(v > 0, np.floor(np.log10(np.maximum(v, 1)) + 1e-9).astype(int), 0)
    second = np.where(v >= 10, (v // (10 ** np.maximum(nd - 1, 0))) % 10, -1)
    last = v % 10
    pen = np.where(v >= 10, (v // 10) % 10, -1)
    return second, last, pen


# digit classes of a count: columns 0-9 second digit (10: none or below threshold),
# 11-20 last digit (21: below threshold), 22 last two digits equal, 23 adjacent, 24 other,
# 25 below threshold
GROUPS = (slice(0, 11), slice(11, 22), slice(22, 26))
N_CLASSES = 26


def _classes(vmax: int, min_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    second, last, pen = _digit_tables(vmax)
    inside = np.arange(vmax + 1) >= min_count
    two = inside & (pen >= 0)
    c2 = np.where(inside & (second >= 0), second, 10)
    cl = np.where(inside, last, 10) + 11
    cp = np.where(two & (pen == last), 22, np.where(two & (np.abs(pen - last) == 1), 23, np.where(inside, 24, 25)))
    return c2, cl, cp


def _class_counts(values: np.ndarray, vmax: int, min_count: int) -> np.ndarray:
    h = np.bincount(values, minlength=vmax + 1).astype(float)
    out = np.zeros(N_CLASSES)
    for cls in _classes(vmax, min_count):
        out += np.bincount(cls, weights=h, minlength=N_CLASSES)
    return out


def _stats(v: np.ndarray) -> dict:
    """Digit statistics from class counts ``v`` (..., 26)."""
    d2, dl, pr = v[..., 0:10], v[..., 11:21], v[..., 22:25]
    n2, n, npair = d2.sum(-1), dl.sum(-1), pr.sum(-1)
    ar = np.arange(10)
    return {"n": n, "d2": d2, "dl": dl, "mean2": (d2 @ ar) / np.maximum(n2, 1),
            "meanl": (dl @ ar) / np.maximum(n, 1), "zero_five": (dl[..., 0] + dl[..., 5]) / np.maximum(n, 1),
            "repeated": pr[..., 0] / np.maximum(npair, 1), "adjacent": pr[..., 1] / np.maximum(npair, 1)}


def _pool(data: StationData, min_count: int, counts: str = "choices"):
    """(size, count) of every count that could reach ``min_count`` after resampling, and
    the stations/cells excluded. ``counts``: "choices" (every table x choice count, redrawn
    from the table's valid votes) or "ballots" (each table's ballots, redrawn from its
    registered voters, as EFToolkit's digit tests)."""
    if counts == "ballots":
        # EFToolkit counts every table's ballots, those of tables with 0 registered voters
        # too; a count redrawn from more voters than the roll lists is redrawn from its own
        # size (n = max(registered, ballots)), so such a table keeps its count in the null
        ok_station = np.ones(data.n, bool)
        votes = data.emitted[:, None]
        valid = np.maximum(data.registered, data.emitted)[:, None]
        why = ""
    else:
        ok_station = data.valid > 0
        votes = data.votes[ok_station]
        valid = np.broadcast_to(data.valid[ok_station][:, None], votes.shape)
        why = "stations without valid votes"
    pool = votes >= max(1, min_count // 5)
    excluded = {}
    if why and (~ok_station).any():
        excluded[why] = int((~ok_station).sum())
    excluded[f"counts below {min_count}"] = int((votes < min_count).sum())
    return valid[pool].astype(np.int64), votes[pool].astype(np.int64), votes, excluded


class DigitNull:
    """Class probabilities of one and two generations of binomial resampling for every
    distinct (valid, count) pair seen so far; an election and its placebo copies share
    almost all pairs, so each pmf is computed once per run."""

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]] = (), min_count: int = 10):
        import threading

        self.min_count = min_count
        self._lock = threading.Lock()   # placebo copies run in threads and extend the tables
        self.keys = np.zeros(0, np.int64)
        self.grid_size: int | None = None
        self.p1 = np.zeros((0, N_CLASSES))
        self.p2 = np.zeros((0, N_CLASSES))
        for n, c in pairs:
            self.ensure(n, c)

    def prepare_grid(self, size: int) -> "DigitNull":
        """Every pair (c, n) with c <= n <= ``size`` in one pmf pass: the class probabilities
        after one redraw are pmf-weighted one-hot classes, and after two redraws
        pmf-weighted one-redraw probabilities of the same grid. Used when tables are small
        (a few hundred voters), so that placebo copies need no pmf at all."""
        from scipy import sparse

        from escrutinio.forensics.binomial import grid_pairs, pmf_chunks

        keys, n, c, offset = grid_pairs(size)
        classes = _classes(size, self.min_count)
        onehot = np.zeros((len(keys), N_CLASSES))
        for cls in classes:
            onehot[np.arange(len(keys)), cls[c]] = 1.0
        rows_l, cols_l, vals_l = [], [], []
        for rows, kk, prob in pmf_chunks(n, c):
            m = prob > 0
            rows_l.append(np.broadcast_to(rows[:, None], kk.shape)[m])
            cols_l.append((offset[n[rows]][:, None] + kk)[m])
            vals_l.append(prob[m])
        w = sparse.csr_matrix((np.concatenate(vals_l), (np.concatenate(rows_l), np.concatenate(cols_l))),
                              shape=(len(keys), len(keys)))
        self.keys = keys
        self.p1 = np.asarray(w @ onehot)
        self.p2 = np.asarray(w @ self.p1)
        self.grid_size = size
        return self

    def pairs(self, n: np.ndarray, c: np.ndarray):
        """The distinct (shared-size) pair keys of one election and their multiplicities,
        for :meth:`ensure` and :meth:`moments` (None where the grid holds every pair)."""
        from escrutinio.forensics.binomial import grid_positions, unique_pairs

        if grid_positions(n, c, self.grid_size) is not None:
            return None
        return unique_pairs(*_share_size(n, c))

    def ensure(self, n: np.ndarray, c: np.ndarray, pairs=None) -> "DigitNull":
        from escrutinio.forensics.binomial import grid_positions, unique_pairs

        if pairs is None:
            if grid_positions(n, c, self.grid_size) is not None:
                return self
            pairs = unique_pairs(*_share_size(n, c))
        new = pairs[0]
        with self._lock:
            self.grid_size = None   # the table grows beyond the grid: keys are searched from now on
            new = _missing(self.keys, new)
        if len(new):
            # computed outside the lock, so that placebo copies in other threads keep working;
            # pairs another thread added meanwhile are dropped when merging
            p1, p2 = self._compute(new)
            with self._lock:
                self._merge(new, p1, p2)
        return self

    def _extend(self, new: np.ndarray) -> None:
        new = _missing(self.keys, new)
        if len(new):
            self._merge(new, *self._compute(new))

    def _merge(self, new: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> None:
        fresh = np.isin(new, _missing(self.keys, new))
        new, p1, p2 = new[fresh], p1[fresh], p2[fresh]
        if len(new):
            from escrutinio.forensics.binomial import merge_sorted

            # stored in single precision (7 digits): a country of large tables and its placebo
            # copies hold millions of pairs x 26 classes x 2 generations; moments() sums in double
            self.keys, (self.p1, self.p2) = merge_sorted(self.keys, new, [self.p1, self.p2],
                                                         [p1.astype(np.float32), p2.astype(np.float32)], np.float32)

    # first-generation sd from which the second generation uses the beta-binomial window
    # (binomial.pmf_chunks(twice=True)); below it the second generation is exact
    TWICE_EXACT_BELOW_SD = 8.0

    def _compute(self, keys0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from escrutinio.forensics.binomial import split_keys

        n0, c0 = split_keys(keys0)
        classes = _classes(int(n0.max()), self.min_count)
        p1 = _class_probabilities(n0, c0, classes, min_count=self.min_count)
        p2 = np.zeros_like(p1)
        sd = np.sqrt(c0 * (1 - c0 / np.maximum(n0, 1)))
        wide = sd >= self.TWICE_EXACT_BELOW_SD
        if wide.any():
            p2[wide] = _class_probabilities(n0[wide], c0[wide], classes, twice=True, min_count=self.min_count)
        narrow = np.flatnonzero(~wide)
        for start in range(0, len(narrow), 20_000):   # bounded temporaries (placebo copies run in threads)
            rows = narrow[start:start + 20_000]
            p2[rows] = self._twice_exact(n0[rows], c0[rows], classes, self.min_count)
        return p1, p2

    @staticmethod
    def _twice_exact(n0: np.ndarray, c0: np.ndarray, classes, min_count: int | None = None) -> np.ndarray:
        """Class probabilities after two redraws, exactly: the pmf-weighted one-redraw class
        probabilities of every point of the first window (cheap for narrow windows)."""
        from scipy import sparse

        from escrutinio.forensics.binomial import pair_keys, pmf_chunks, split_keys

        rows_l, cols_l, vals_l = [], [], []
        for rows, kk, prob in pmf_chunks(n0, c0):
            m = prob > 0
            rows_l.append(np.broadcast_to(rows[:, None], kk.shape)[m])
            cols_l.append(pair_keys(np.broadcast_to(n0[rows][:, None], kk.shape)[m], kk[m]))
            vals_l.append(prob[m])
        keys1, col1 = np.unique(np.concatenate(cols_l), return_inverse=True)
        w0 = sparse.csr_matrix((np.concatenate(vals_l), (np.concatenate(rows_l), col1)),
                               shape=(len(n0), len(keys1)))
        n1, k1 = split_keys(keys1)
        return np.asarray(w0 @ _class_probabilities(n1, k1, classes, min_count=min_count))

    def moments(self, n: np.ndarray, c: np.ndarray, pairs=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Multiplicity of each distinct pair of one election and the class probabilities
        of its pairs after one and two redraws (``pairs``: :meth:`pairs`' answer, if at
        hand), in key order."""
        from escrutinio.forensics.binomial import grid_positions, pair_keys

        with self._lock:
            keys, p1, p2, size = self.keys, self.p1, self.p2, self.grid_size
        if pairs is not None and size is None:
            pos = np.searchsorted(keys, pairs[0])
            return pairs[1].astype(float), p1[pos].astype(float), p2[pos].astype(float)
        pos = grid_positions(n, c, size)
        if pos is None:
            pos = np.searchsorted(keys, pair_keys(*_share_size(n, c)))
        m = np.bincount(pos, minlength=len(keys)).astype(float)
        used = m > 0
        return m[used], p1[used].astype(float), p2[used].astype(float)


# A count c redrawn from n: beyond EXACT_OTHERS "other" voters (m = n - c) the size is
# rounded so that m sits on a grid of relative step OTHERS_STEP. The mean stays c exactly
# (the digits of c are untouched) and the variance c m / n moves by at most
# OTHERS_STEP / 2 (relative), far below what shifts a digit class; in return the counts of
# a country of large tables, and of its placebo copies, share their pmfs (Russia 2021:
# 229,000 distinct pairs, and 100,000 more for each copy, without it)
EXACT_OTHERS = 1000
OTHERS_STEP = 0.005


def _missing(keys: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The sorted unique ``new`` keys that the sorted table ``keys`` lacks."""
    if not len(keys) or not len(new):
        return new
    pos = np.minimum(np.searchsorted(keys, new), len(keys) - 1)
    return new[keys[pos] != new]


def _share_size(n: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(n, np.int64)
    c = np.asarray(c, np.int64)
    m = n - c
    big = m > EXACT_OTHERS
    if not big.any():
        return n, c
    mq = np.round(EXACT_OTHERS * np.exp(np.round(np.log(np.maximum(m, 1) / EXACT_OTHERS) / OTHERS_STEP)
                                        * OTHERS_STEP)).astype(np.int64)
    return np.where(big, c + mq, n), c


def _draw_counts(m: np.ndarray, p: np.ndarray, sims: int, rng: np.random.Generator) -> np.ndarray:
    """``sims`` draws of the class counts (sims x 26) of the sum of independent categorical
    draws (m[i] cells with class probabilities p[i]): normal with the exact mean and
    covariance, group by group (each group's classes sum to the number of cells)."""
    mean = m @ p
    out = np.empty((sims, N_CLASSES))
    for g in GROUPS:
        pg = np.ascontiguousarray(p[:, g])
        cov = np.diag(mean[g]) - pg.T @ (m[:, None] * pg)
        lam, vec = np.linalg.eigh((cov + cov.T) / 2)
        root = vec * np.sqrt(np.clip(lam, 0, None))
        out[:, g] = mean[g] + rng.standard_normal((sims, pg.shape[1])) @ root.T
    return np.clip(out, 0, None)


def _class_probabilities(n: np.ndarray, c: np.ndarray, classes, twice: bool = False,
                         min_count: int | None = None) -> np.ndarray:
    """Digit-class probabilities (pairs x 26) of a count redrawn once (``twice``: twice)
    at each pair's rate. With the usual threshold of 10 (``min_count``) the classes are
    summed block by block of ten counts (:func:`_classify_blocks`); any other threshold
    takes the cell-by-cell path."""
    from escrutinio.forensics.binomial import pmf_chunks, pmf_columns

    out = np.zeros((len(n), N_CLASSES))
    if min_count == 10:
        for rows, start, prob in pmf_columns(n, c, twice=twice):
            out[rows] = _classify_blocks(start, prob)
        return out
    for rows, kk, prob in pmf_chunks(n, c, twice=twice):
        for cls in classes:
            out[rows] += _rowwise_bincount(cls[kk], prob, N_CLASSES)
    return out


def _classify_blocks(start: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Digit classes (pairs x 26, threshold 10) of pmf columns from
    :func:`binomial.pmf_columns`: ``prob[j, r]`` is the probability of the count
    start[r] + j, ``start`` a multiple of ten. The ten counts of a block share every digit
    but the last; so the last digit is the sum over blocks, the second digit (for counts
    of three digits or more) and the pair classes need one value per block, and only the
    blocks of 10-99, whose second digit is their last, are read cell by cell. The same
    sums as the cell-by-cell bincount, in another order (equal to about 1e-16)."""
    width, r = prob.shape
    nb = width // 10
    p3 = prob.reshape(nb, 10, r)
    block = p3.sum(axis=1)                                   # (blocks, pairs)
    s = start[None, :] + 10 * np.arange(nb)[:, None]         # first count of each block
    out = np.zeros((r, N_CLASSES))
    below = block[0] * (start == 0)                          # counts 0-9: below the threshold
    out[:, 10] = out[:, 21] = out[:, 25] = below
    out[:, 11:21] = (p3.sum(axis=0) - p3[0] * (start == 0)[None, :]).T
    # last two digits: the block's tens digit t against its last digit
    t = (s // 10) % 10
    inside = s >= 10
    same = np.take_along_axis(p3, t[:, None, :], axis=1)[:, 0, :]
    adj = (np.take_along_axis(p3, np.maximum(t - 1, 0)[:, None, :], axis=1)[:, 0, :] * (t >= 1)
           + np.take_along_axis(p3, np.minimum(t + 1, 9)[:, None, :], axis=1)[:, 0, :] * (t <= 8))
    out[:, 22] = (same * inside).sum(axis=0)
    out[:, 23] = (adj * inside).sum(axis=0)
    out[:, 24] = (block * inside).sum(axis=0) - out[:, 22] - out[:, 23]
    # second digit: one per block from 100 on; blocks of 10-99 by their last digit
    big = s >= 100
    if big.any():
        div = np.full(s.shape, 10, np.int64)
        for e in range(3, 19):
            over = s >= 10 ** e
            if not over.any():
                break
            div[over] = 10 ** (e - 1)
        d2 = (s // div) % 10
        flat = (np.arange(r)[None, :] * 10 + d2)[big]
        out[:, 0:10] = np.bincount(flat, weights=block[big], minlength=r * 10).reshape(r, 10)
    two = (s >= 10) & (s < 100)
    if two.any():
        nb2 = min(nb, 10)   # a block of 10-99 lies in the first ten of its column
        out[:, 0:10] += np.einsum("bdr,br->rd", p3[:nb2], two[:nb2].astype(float))
    return out


def _rowwise_bincount(cls: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    r = cls.shape[0]
    flat = (np.arange(r)[:, None] * k + cls).ravel()
    return np.bincount(flat, weights=w.ravel(), minlength=r * k).reshape(r, k)


def _chi2(obs: np.ndarray, expected_p: np.ndarray) -> float:
    n = obs.sum()
    e = expected_p * n
    ok = e > 0
    return float(((obs[ok] - e[ok]) ** 2 / e[ok]).sum())


def _chi2_vs_simulated(observed: np.ndarray, simulated: np.ndarray):
    """Chi-square distance of the observed digit counts to the simulated digit law, and
    of every simulated draw to the law estimated from the *other* draws (leave-one-out),
    so that each draw is judged like the observed data: against a law it did not shape."""
    f = simulated / np.maximum(simulated.sum(axis=1, keepdims=True), 1)
    s = len(f)
    centre = f.mean(axis=0)
    obs_stat = _chi2(observed, centre)
    loo = (s * centre[None, :] - f) / max(s - 1, 1)
    e = loo * simulated.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        sims = np.where(e > 0, (simulated - e) ** 2 / e, 0.0).sum(axis=1)
    return centre, obs_stat, sims


def digit_tests(data: StationData, sims: int | None = None, seed=None, min_count: int = 10,
                scope: str = "all", null: DigitNull | None = None, counts: str = "choices") -> list[TestResult]:
    """Run the digit battery; returns one :class:`TestResult` per test, each carrying the
    classical and simulated p-values (``p_value`` is the recommended one).

    ``sims`` (default 199) draws of the simulated null; ``null`` reuses the class
    probabilities computed for several elections at once (placebo copies)."""
    rng = np.random.default_rng(seed)
    units = counts
    pn, pc, votes, excluded = _pool(data, min_count, units)
    counts = votes[votes >= min_count]
    if len(counts) == 0:
        return []
    sims = 199 if sims is None else int(sims)
    if null is None or null.min_count != min_count:
        null = DigitNull(min_count=min_count)
    pairs = null.pairs(pn, pc)
    null.ensure(pn, pc, pairs)
    vmax = max(int(votes.max()), 1)
    obs = _stats(_class_counts(votes.ravel(), vmax, min_count))
    m, p1, p2 = null.moments(pn, pc, pairs)
    sim = _stats(_draw_counts(m, p1, sims, rng))
    # one more generation of resampling (resampling the resample) moves each statistic by
    # the bias that resampling around noisy observed rates adds; subtracting that shift,
    # computed exactly from the class probabilities after one and two redraws, centres the
    # null on the observed data rather than on a doubly-noised copy (bootstrap bias
    # correction, Efron & Tibshirani 1993, ch. 10)
    e1, e2 = _stats(m @ p1), _stats(m @ p2)
    for key in ("mean2", "meanl", "zero_five", "repeated", "adjacent"):
        sim[key] = sim[key] - (e2[key] - e1[key])
    for key in ("d2", "dl"):
        tot = np.maximum(sim[key].sum(axis=1, keepdims=True), 1)
        shift = e2[key] / max(e2[key].sum(), 1) - e1[key] / max(e1[key].sum(), 1)
        sim[key] = np.clip(sim[key] / tot - shift, 0, None) * tot
    n2 = obs["d2"].sum()
    n_obs = float(obs["n"])
    out: list[TestResult] = []
    sim_null = f"binomial resampling at each station's observed rates ({sims} draws)"
    if units == "ballots":
        sim_null += " of each table's ballot count"

    def add(name, stat, p_cl, p_sim, null_cl, effect, eff_name, caveat, cite, recommended="simulated", extra=None):
        p = p_sim if recommended == "simulated" else p_cl
        out.append(TestResult(
            name=name, statistic=float(stat), p_value=p, null=(sim_null if recommended == "simulated" else null_cl),
            n_units=int(n2 if name.startswith("2bl") else n_obs), caveat=caveat, scope=scope,
            effect_size=effect, effect=eff_name, p_value_classical=p_cl, p_value_simulated=p_sim,
            recommended=recommended, excluded=excluded, citation=cite,
            details={"classical_null": null_cl, "simulated_null": sim_null, **(extra or {})}))

    # 2BL mean: classical z-test against the Benford mean with the Benford digit variance
    mu = (BENFORD2 * np.arange(10)).sum()
    var = (BENFORD2 * (np.arange(10) - mu) ** 2).sum()
    z = (obs["mean2"] - mu) / np.sqrt(var / max(n2, 1))
    sims_mean2 = sim["mean2"]
    caveat_2bl = ("Real vote counts need not follow Benford's law: the classical 2BL null rejects clean elections "
                  "(Deckert, Myagkov & Ordeshook 2011). Read the simulated p-value; even then a departure is an "
                  "anomaly, not evidence of fraud.")
    add("2bl_mean", obs["mean2"], float(2 * stats.norm_sf(abs(z))), smooth_p_value(obs["mean2"], sims_mean2, "two", 1),
        f"Benford second-digit law, mean {mu:.4f}", float(obs["mean2"] - mu), "mean minus Benford mean",
        caveat_2bl, CITE_2BL, extra={"benford_mean": mu, "simulated_mean": float(sims_mean2.mean()),
                                     "digits": obs["d2"].astype(int).tolist()})
    # 2BL distribution
    chi_cl = _chi2(obs["d2"], BENFORD2)
    sim_p2, chi_sim_obs, chi_sims = _chi2_vs_simulated(obs["d2"], sim["d2"])
    add("2bl_distribution", chi_cl, float(stats.chi2_sf(chi_cl, 9)), mc_p_value(chi_sim_obs, chi_sims),
        "Benford second-digit law, chi-square 9 df", float(np.sqrt(chi_cl / max(n2, 1))), "Cohen's w",
        caveat_2bl, CITE_2BL, extra={"chi2_vs_simulated": chi_sim_obs, "simulated_digit_p": sim_p2.tolist(),
                                     "p_smooth": chi2_p_value(chi_sim_obs, chi_sims, 1)})
    # last digit distribution
    uni = np.full(10, 0.1)
    chi_l = _chi2(obs["dl"], uni)
    sim_pl, chi_l_sim_obs, chi_l_sims = _chi2_vs_simulated(obs["dl"], sim["dl"])
    caveat_last = ("Last digits of counts >= 10 are close to uniform under honest counting; a departure means the "
                   "reported digits are unusual (e.g. invented numbers), which observers should check on the actas. "
                   "Not evidence of fraud by itself.")
    add("last_digit_distribution", chi_l, float(stats.chi2_sf(chi_l, 9)), mc_p_value(chi_l_sim_obs, chi_l_sims),
        "uniform last digit, chi-square 9 df", float(np.sqrt(chi_l / max(n_obs, 1))), "Cohen's w",
        caveat_last, CITE_BS, extra={"digits": obs["dl"].astype(int).tolist(), "simulated_digit_p": sim_pl.tolist(),
                                     "p_smooth": chi2_p_value(chi_l_sim_obs, chi_l_sims, 1)})
    # mean last digit
    zl = (obs["meanl"] - 4.5) / np.sqrt(8.25 / n_obs)
    add("last_digit_mean", obs["meanl"], float(2 * stats.norm_sf(abs(zl))),
        smooth_p_value(obs["meanl"], sim["meanl"], "two", 1),
        "uniform last digit, mean 4.5", float(obs["meanl"] - 4.5), "mean minus 4.5", caveat_last, CITE_BS)
    # ending in 0 or 5
    k05 = int(round(obs["zero_five"] * n_obs))
    add("last_digit_zero_five", obs["zero_five"], stats.binomtest_two_sided(k05, int(n_obs), 0.2),
        smooth_p_value(obs["zero_five"], sim["zero_five"], "two", 1),
        "share of counts ending in 0 or 5 = 0.2 (binomial)", float(obs["zero_five"] - 0.2), "share minus 0.2",
        caveat_last, CITE_BS)
    # Beber-Scacco pairs
    for key, p0, label in (("repeated", 0.1, "last two digits equal"), ("adjacent", 0.18, "last two digits differ by 1")):
        k = int(round(obs[key] * n_obs))
        add(f"last_pair_{key}", obs[key], stats.binomtest_two_sided(k, int(n_obs), p0),
            smooth_p_value(obs[key], sim[key], "two", 1),
            f"{label}: share {p0} under uniform last two digits (binomial)", float(obs[key] - p0),
            f"share minus {p0}", caveat_last, CITE_BS)
    return out
