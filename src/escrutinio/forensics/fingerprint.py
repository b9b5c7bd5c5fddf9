"""Election fingerprints and the Klimek fraud model.

Klimek, P., Yegorov, Y., Hanel, R. & Thurner, S. (2012). "Statistical detection of
systematic election irregularities." PNAS 109(41), 16469-16473.

The fingerprint is the 2D histogram of station turnout (x) against the leader's share of
valid votes (y). Under fair conditions it is one compact blob; incremental fraud smears
it towards the upper right, extreme fraud piles stations at 100 % / 100 %.

The fraud model (our parametrisation of Klimek et al.'s): each station has fair
turnout tau_i ~ N(mu_t, sd_t) and fair leader share nu_i ~ N(mu_v, sd_v) (truncated to
[0, 1]); its fair counts are binomial (V_i ~ Bin(N_i, tau_i) voters, W_i ~ Bin(V_i, nu_i)
leader votes, N_i the real electorate), truncated to [0.01, 0.99]. With probability f_i the station suffers
*incremental* fraud and with probability f_e *extreme* fraud: a fraction x_i of the
non-voters is added to the leader (ballot stuffing) and the same fraction x_i of the
opposition's votes is moved to the leader (vote stealing), with x_i ~ |N(0, sigma_x)| for
incremental and x_i ~ 1 - |N(0, sigma_e)| for extreme fraud (clipped to [0, 1]).
Klimek et al. fit the fair parameters from the bulk of the data; we profile the fair
means by a descent on a lattice (-0.05 to +0.01 around each marginal mode, step 0.01,
from the modes to the best neighbour until none is better; then step 0.0025 around the
best) and take each sd from the side of the mean that fraud does
not touch (below it), net of binomial noise.

Fit: minimum squared-Hellinger distance sum (sqrt(H_obs) - sqrt(H_model))^2 between the
observed and model fingerprints over a (f_i, f_e) grid. The model histograms for the
whole grid come from one set of common random numbers (stations sorted by their fraud
uniform, cumulative histograms at each grid threshold), so the whole grid costs about
one simulation per fair-mean candidate.
Intervals: a bootstrap confidence set. ``boot`` datasets are simulated at the fit with
fresh random numbers; in each, the excess of the distance at the true (fitted) point over
the minimum distance is recorded; its 95 % quantile is the margin. Every (f_i, f_e) whose
profile distance is within the margin of the observed minimum belongs to the set, and
the intervals are the set's projections widened by half a grid step.

Caveat: a fitted f_i or f_e above 0 says that the fingerprint is smeared the way the
model's fraud would smear it; heterogeneous regions (e.g. rural strongholds with high
turnout) smear it too. It is a measure of shape, not of fraud.
"""
from __future__ import annotations

from dataclasses import dataclass, field, asdict

import numpy as np

from escrutinio.forensics.core import StationData, _json

CITATION = "Klimek, Yegorov, Hanel & Thurner (2012), PNAS 109(41):16469-16473"


def fingerprint_histogram(turnout: np.ndarray, share: np.ndarray, bins: int = 50) -> np.ndarray:
    """Counts on a bins x bins grid over [0,1]^2 (rows: turnout, columns: share); values
    equal to 1 fall in the last bin."""
    it = np.clip((np.asarray(turnout) * bins).astype(np.int64), 0, bins - 1)
    js = np.clip((np.asarray(share) * bins).astype(np.int64), 0, bins - 1)
    return np.bincount(it * bins + js, minlength=bins * bins).reshape(bins, bins)


def fair_parameters(turnout: np.ndarray, share: np.ndarray, registered: np.ndarray) -> dict:
    """Mode and lower-side sd (net of binomial noise) of each marginal."""
    out = {}
    for key, x in (("t", turnout), ("v", share)):
        h, edges = np.histogram(x, bins=200, range=(0, 1))
        sm = np.convolve(h, np.ones(9) / 9, mode="same")
        mode = float((edges[:-1] + edges[1:])[np.argmax(sm)] / 2)
        below = x[x <= mode]
        sd_obs = float(np.sqrt(np.mean((below - mode) ** 2))) if len(below) > 10 else float(np.std(x))
        noise = float(np.mean(mode * (1 - mode) / np.maximum(registered, 1)))
        out["mu_" + key] = mode
        out["sd_" + key] = float(np.sqrt(max(sd_obs ** 2 - noise, 1e-6)))
    return out


def _fair_votes(N: np.ndarray, fair: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean voters and leader votes per station under the fair model, and the uniform
    that decides each station's fraud class."""
    n = len(N)
    tau = np.clip(rng.normal(fair["mu_t"], fair["sd_t"], n), 0.01, 0.99)
    nu = np.clip(rng.normal(fair["mu_v"], fair["sd_v"], n), 0.01, 0.99)
    V = _binomial(N, tau, rng)
    W = _binomial(V, nu, rng)
    return V, W, rng.random(n)


def _bin_with_fraud(N, V, W, x, bins: int) -> np.ndarray:
    """Fingerprint bin after moving a fraction x of non-voters and of opposition votes to
    the leader."""
    add = np.rint(x * (N - V))
    v2 = V + add
    w2 = W + add + np.rint(x * (V - W))
    t = v2 / np.maximum(N, 1)
    s = np.where(v2 > 0, w2 / np.maximum(v2, 1), 0.0)
    return np.clip((t * bins).astype(np.int64), 0, bins - 1) * bins + np.clip((s * bins).astype(np.int64), 0, bins - 1)


def _simulate_parts(N: np.ndarray, fair: dict, sigma_x: float, sigma_e: float, rng: np.random.Generator, bins: int):
    """Fingerprint bin of each station when clean, under incremental and under extreme
    fraud, plus the uniform deciding its fraud class (common random numbers)."""
    n = len(N)
    V, W, u = _fair_votes(N, fair, rng)
    x_inc = np.clip(np.abs(rng.normal(0, sigma_x, n)), 0, 1)
    x_ext = np.clip(1 - np.abs(rng.normal(0, sigma_e, n)), 0, 1)
    return (u, _bin_with_fraud(N, V, W, np.zeros(n), bins), _bin_with_fraud(N, V, W, x_inc, bins),
            _bin_with_fraud(N, V, W, x_ext, bins))


def _simulate_fitted(N: np.ndarray, fair: dict, sigma_x: float, sigma_e: float, f_i: float, f_e: float,
                     rng: np.random.Generator, bins: int) -> np.ndarray:
    """Fingerprint bin of each station in one data set simulated at (f_i, f_e): the class
    first, then the fraud fraction only where there is fraud (a third of
    :func:`_simulate_parts`'s work)."""
    n = len(N)
    V, W, u = _fair_votes(N, fair, rng)
    x = np.zeros(n)
    ext = u < f_e
    inc = ~ext & (u < f_e + f_i)
    x[inc] = np.clip(np.abs(rng.normal(0, sigma_x, int(inc.sum()))), 0, 1)
    x[ext] = np.clip(1 - np.abs(rng.normal(0, sigma_e, int(ext.sum()))), 0, 1)
    return _bin_with_fraud(N, V, W, x, bins)


def _binomial(n: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Binomial draws; where n p (1 - p) >= 4 by the rounded normal approximation, which is
    five times faster and indistinguishable on a 25 x 25 fingerprint (bins 4 points wide)."""
    var = n * p * (1 - p)
    out = np.empty(len(n), np.int64)
    small = var < 4
    out[small] = rng.binomial(n[small], p[small])
    big = ~small
    z = rng.standard_normal(int(big.sum()), dtype=np.float32)
    out[big] = np.clip(np.rint(n[big] * p[big] + np.sqrt(var[big]) * z), 0, n[big])
    return out


def parallel_map(fn, items, workers: int | None = None):
    """``map`` over a small thread pool: numpy releases the GIL in its random generators
    and array arithmetic, so independent simulations overlap on a multi-core machine.
    Results come back in input order (each item carries its own seed)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    workers = workers or min(4, os.cpu_count() or 1)
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(workers) as ex:
        return list(ex.map(fn, items))


def _grid_histograms(u, b_clean, b_inc, b_ext, fi_grid, fe_grid, bins):
    """Model histograms for every (f_i, f_e) on the grid, shape (len(fi), len(fe), bins^2)."""
    # rounding keeps f_e + f_i sums that are equal on paper equal in floating point
    cuts = np.unique(np.round(np.concatenate([fe_grid, (fe_grid[:, None] + fi_grid[None, :]).ravel()]), 10))
    cuts = np.minimum(cuts, 1.0)
    slot = np.searchsorted(cuts, u, side="right")  # stations with u < cuts[k] have slot <= k
    nb = bins * bins
    ncut = len(cuts) + 1

    def cum(b):
        c = np.bincount(slot * nb + b, minlength=ncut * nb).reshape(ncut, nb)
        return np.cumsum(c, axis=0)  # row k: stations with u < cuts[k]

    C_clean, C_inc, C_ext = cum(b_clean), cum(b_inc), cum(b_ext)
    total_clean = C_clean[-1]
    ke = np.searchsorted(cuts, np.round(fe_grid, 10)) + 0  # row of C: stations with u < f_e
    kt = np.searchsorted(cuts, np.round(np.minimum(fe_grid[None, :] + fi_grid[:, None], 1.0), 10))
    H = (total_clean[None, None, :] - C_clean[kt] + C_inc[kt] - C_inc[ke][None, :, :] + C_ext[ke][None, :, :])
    return H


def _distance(H_model: np.ndarray, h_obs: np.ndarray) -> np.ndarray:
    return ((np.sqrt(H_model) - np.sqrt(h_obs.ravel())[None, None, :]) ** 2).sum(axis=-1)


@dataclass
class KlimekFit:
    f_i: float
    f_e: float
    ci_f_i: tuple[float, float]
    ci_f_e: tuple[float, float]
    distance: float
    fair: dict
    margin: float
    at_boundary: bool
    sigma_x: float
    sigma_e: float
    n_units: int
    excluded: dict
    boot: int
    bins: int
    histogram: list = field(default_factory=list, repr=False)
    model_histogram: list = field(default_factory=list, repr=False)
    null: str = "no fraud: f_i = f_e = 0 in the Klimek et al. (2012) model"
    caveat: str = ("f_i and f_e measure how smeared the fingerprint is in the directions the model's fraud smears "
                   "it; genuine regional differences (e.g. high-turnout strongholds) produce the same shape. A "
                   "shape, not evidence of fraud.")
    citation: str = CITATION

    def summary(self) -> str:
        edge = (" The estimate sits at the edge of the grid: the model does not describe this fingerprint, so "
                "f_i/f_e are not interpretable here." if self.at_boundary else "")
        return (f"Klimek fit on {self.n_units:,} tables: f_i = {self.f_i:.3f} (95% CI {self.ci_f_i[0]:.3f}-"
                f"{self.ci_f_i[1]:.3f}), f_e = {self.f_e:.4f} (95% CI {self.ci_f_e[0]:.4f}-{self.ci_f_e[1]:.4f}); "
                f"fair turnout {self.fair['mu_t']:.3f}+-{self.fair['sd_t']:.3f}, fair share "
                f"{self.fair['mu_v']:.3f}+-{self.fair['sd_v']:.3f}.{edge} {self.caveat}")

    def to_dict(self, histograms: bool = False) -> dict:
        d = asdict(self)
        if not histograms:
            d.pop("histogram")
            d.pop("model_histogram")
        return _json(d)


def _usable(data: StationData) -> tuple[np.ndarray, dict]:
    keep = (data.registered > 0) & (data.emitted > 0) & (data.valid > 0) & (data.emitted <= data.registered)
    excluded = {}
    if (~keep).any():
        excluded["no registered, no ballots, no valid votes, or more ballots than registered"] = int((~keep).sum())
    return keep, excluded


def _fair_at(turnout, share, registered, mu_t, mu_v, scale: float = 1.0) -> dict:
    """Fair parameters for given means: sd from the side below the mean, net of binomial
    noise (turnout over the electorate, share over the voters), times ``scale``."""
    out = {"mu_t": float(mu_t), "mu_v": float(mu_v)}
    voters = np.maximum(np.rint(registered * turnout), 1)
    for key, x, mu, den in (("t", turnout, mu_t, registered), ("v", share, mu_v, voters)):
        below = x <= mu
        sd_obs = float(np.sqrt(np.mean((x[below] - mu) ** 2))) if below.sum() > 10 else float(np.std(x))
        noise = float(np.mean(mu * (1 - mu) / np.maximum(den[below] if below.sum() > 10 else den, 1)))
        out["sd_" + key] = scale * float(np.sqrt(max(sd_obs ** 2 - noise, 1e-6)))
    return out


def fit_klimek(data: StationData, bins: int = 25, sigma_x: float = 0.25, sigma_e: float = 0.075,
               fi_grid=None, fe_grid=None, boot: int = 100, seed=None,
               mean_offsets_t=tuple(np.round(np.arange(-0.05, 0.0101, 0.01), 4)),
               mean_offsets_v=tuple(np.round(np.arange(-0.05, 0.0101, 0.01), 4)),
               refine: float = 0.0025) -> KlimekFit:
    """Fit (f_i, f_e) of the Klimek et al. (2012) model with bootstrap intervals.

    The fair means are profiled over small offsets from the marginal modes (fraud moves
    the modes right, so the offsets are mostly negative); the fair sds follow from the
    side below each mean. Stations are not filtered by turnout or share here (the
    extreme-fraud signature lives at 100 %); only stations without registered voters,
    ballots or valid votes, or with more ballots than registered voters, are excluded
    (reported)."""
    rng = np.random.default_rng(seed)
    base_seed = int(rng.integers(2**62))
    fi_grid = np.round(np.arange(0, 0.6001, 0.02), 6) if fi_grid is None else np.asarray(fi_grid, float)
    fe_grid = np.round(np.arange(0, 0.0801, 0.005), 6) if fe_grid is None else np.asarray(fe_grid, float)
    keep, excluded = _usable(data)
    N = data.registered[keep]
    t = data.emitted[keep] / N
    s = data.votes[keep, data.leader_index] / data.share_base[keep]
    h_obs = fingerprint_histogram(t, s, bins).ravel().astype(float)
    mode = fair_parameters(t, s, N)
    cands, sqrtHs, consts = [], [], []

    def add_candidate(mu_t, mu_v):
        fair = _fair_at(t, s, N, mu_t, mu_v)
        # common random numbers across candidates and grid points
        parts = _simulate_parts(N, fair, sigma_x, sigma_e, np.random.default_rng(base_seed), bins)
        H = _grid_histograms(*parts, fi_grid, fe_grid, bins).reshape(len(fi_grid) * len(fe_grid), -1)
        cands.append(fair)
        consts.append(H.sum(axis=1).astype(float))
        sqrtHs.append(np.sqrt(H).astype(np.float32))
        return float(((np.sqrt(H) - np.sqrt(h_obs)[None, :]) ** 2).sum(axis=1).min())

    # profile of the fair means: a descent over the same lattice of offsets (0.01 apart,
    # within the offsets' range), from the marginal modes to the best neighbour until no
    # neighbour is better, then the same at the refine step (0.0025) around the best. It
    # visits 15-30 candidates where the full lattice had 49 + 24.
    seen: dict = {}

    def value(a: float, b: float) -> float:
        key = (round(a, 6), round(b, 6))
        if key not in seen:
            seen[key] = add_candidate(mode["mu_t"] + key[0], mode["mu_v"] + key[1])
        return seen[key]

    def descend(start, step, lo_t, hi_t, lo_v, hi_v):
        cur = start
        while True:
            around = [(cur[0] + i * step, cur[1] + j * step) for i in (-1, 0, 1) for j in (-1, 0, 1)
                      if lo_t - 1e-9 <= cur[0] + i * step <= hi_t + 1e-9 and lo_v - 1e-9 <= cur[1] + j * step <= hi_v + 1e-9]
            best = min(around, key=lambda ab: (value(*ab), ab != cur))
            if best == cur:
                return cur
            cur = best

    ot, ov = np.asarray(mean_offsets_t, float), np.asarray(mean_offsets_v, float)
    step_t = float(np.min(np.diff(ot))) if len(ot) > 1 else 0.01
    start = (float(ot[np.argmin(np.abs(ot))]), float(ov[np.argmin(np.abs(ov))]))
    best = descend(start, step_t, ot.min(), ot.max(), ov.min(), ov.max())
    if refine:
        best = descend(best, refine, best[0] - 2 * refine, best[0] + 2 * refine,
                       best[1] - 2 * refine, best[1] + 2 * refine)
    n_grid = len(fi_grid) * len(fe_grid)
    sqrtH = np.concatenate(sqrtHs)      # (candidates * grid) x cells, contiguous for one matvec
    const = np.concatenate(consts)

    def dist_to(h):
        # sum (sqrt H - sqrt h)^2 = sum H - 2 sqrt(H).sqrt(h) + sum h
        return (const - 2 * (sqrtH @ np.sqrt(h).astype(np.float32)) + h.sum()).reshape(len(cands), n_grid)

    d = dist_to(h_obs)
    c, g = np.unravel_index(np.argmin(d), d.shape)
    i, j = np.unravel_index(g, (len(fi_grid), len(fe_grid)))
    f_i, f_e, fair = float(fi_grid[i]), float(fe_grid[j]), cands[c]
    # Confidence set by parametric bootstrap of the distance excess (a likelihood-ratio
    # analogue): in data simulated at the fit, how far is the true point's distance above
    # the minimum? Points of the observed profile within that 95 % margin form the set.
    # A flat valley (f_i traded against the fair means) makes the set wide, as it should.
    def one_boot(child):
        b = _simulate_fitted(N, fair, sigma_x, sigma_e, f_i, f_e, np.random.default_rng(child), bins)
        return np.bincount(b, minlength=bins * bins)

    # each bootstrap set has its own seed, so threads give the same answer as one loop;
    # the distances of all sets to every candidate are one matrix product
    children = np.random.SeedSequence(int(rng.integers(2**62))).spawn(boot)
    excess = []
    if boot:
        hb = np.array(parallel_map(one_boot, children), float)            # boot x cells
        db = (const[:, None] - 2 * (sqrtH @ np.sqrt(hb).T.astype(np.float32)) + hb.sum(axis=1)[None, :])
        excess = (db[c * n_grid + g] - db.min(axis=0)).tolist()
    margin = float(np.quantile(excess, 0.95)) if excess else 0.0
    prof = d.min(axis=0).reshape(len(fi_grid), len(fe_grid))
    inside = prof - d[c, g] <= margin
    step_i = float(fi_grid[1] - fi_grid[0]) if len(fi_grid) > 1 else 0.0
    step_e = float(fe_grid[1] - fe_grid[0]) if len(fe_grid) > 1 else 0.0
    fi_in = fi_grid[inside.any(axis=1)]
    fe_in = fe_grid[inside.any(axis=0)]
    ci_i = (float(max(0.0, fi_in.min() - step_i / 2)), float(fi_in.max() + step_i / 2))
    ci_e = (float(max(0.0, fe_in.min() - step_e / 2)), float(fe_in.max() + step_e / 2))
    model = (sqrtH[c * n_grid + g].astype(float) ** 2).reshape(bins, bins)
    at_boundary = bool(i == len(fi_grid) - 1 or j == len(fe_grid) - 1)
    return KlimekFit(f_i=f_i, f_e=f_e, ci_f_i=ci_i, ci_f_e=ci_e, margin=margin, at_boundary=at_boundary,
                     distance=float(d[c, g]), fair=fair, sigma_x=sigma_x, sigma_e=sigma_e, n_units=int(keep.sum()),
                     excluded=excluded, boot=boot, bins=bins, histogram=h_obs.reshape(bins, bins).tolist(),
                     model_histogram=np.rint(model).tolist())


def fingerprint(data: StationData, bins: int = 40) -> np.ndarray:
    """The observed fingerprint (same exclusions as :func:`fit_klimek`)."""
    keep, _ = _usable(data)
    N = data.registered[keep]
    return fingerprint_histogram(data.emitted[keep] / N, data.votes[keep, data.leader_index] / data.share_base[keep], bins)
