"""Simulation of the uncounted tables' votes from a fitted model, top-down through the levels."""
from __future__ import annotations

import numpy as np

from escrutinio.dynamics.multilevel.crossed import _crossed_draw
from escrutinio.dynamics.multilevel.levels import _tau2_draws
from escrutinio.dynamics.multilevel.model import MultilevelFit
from escrutinio.dynamics.multilevel.shared import EPS, _corr_normal


def simulate(f: MultilevelFit, S: int, rng: np.random.Generator, chunk: int = 100, parts: bool = False):
    """S x C simulated votes of the uncounted tables (in chunks of simulations).

    The model is normal on the scale of votes per registered voter, so a draw far in a
    tail can leave that scale: votes are then truncated at 0 and, channel by channel,
    scaled so that no more votes are cast than there are registered voters.

    ``parts``: also return, per simulation, the totals without the terms that are normal
    given the rest (``mean``, S x C, before truncation), those terms' covariance (``cov``,
    S x C x C), the draw before truncation (``drawn``) and the covariates' slopes' term
    (``boot``, S x K x C: the draw's replicate, then its partners), for the conditional
    bounds of :func:`escrutinio.dynamics.projection.result._conditional`. The draws are the
    same as without ``parts`` when there is one replicate per simulation."""
    C = f.phi.size
    U = float(f.U.sum())
    if U <= 0:
        return (np.zeros((S, C)), None) if parts else np.zeros((S, C))
    # Each simulation takes its own bootstrap replicate of the slopes, all different when
    # there are as many replicates as simulations (fit(boot=...)): replicates drawn with
    # replacement would leave the bootstrap's own Monte Carlo error, which more
    # simulations do not reduce (on 2020 at 12:38 with 2019, 20,000 simulations moved the
    # bounds over ten seeds by 0.49 points, against 0.35 with the replicates fixed)
    rows = {}
    if f.beta_boot is not None:
        # with ``parts``, as many replicates of the covariates' slopes per simulation as
        # fit(slope_boot=...) drew per simulation: the first is the draw's, the others its
        # partners in the conditional bounds (the term is additive and independent of the
        # rest, so any replicate pairs with any simulation)
        K = max(1, f.beta_boot.shape[0] // S) if parts else 1
        rows["beta"] = _rows(rng, f.beta_boot.shape[0], S * K).reshape(S, K)
    for i, lev in enumerate(f.levels):
        if lev.slope_boot is not None:
            rows[i] = _rows(rng, lev.slope_boot.shape[0], S)
    out = [_simulate(f, min(chunk, S - s0), rng, {k: v[s0:s0 + chunk] for k, v in rows.items()}, parts=parts)
           for s0 in range(0, S, chunk)]
    tot = np.vstack([o[0] if parts else o for o in out])
    drawn = tot
    tot = np.maximum(tot, 0.0)
    over = tot.sum(axis=1) / U
    tot = tot / np.maximum(over, 1.0)[:, None]
    if not parts:
        return tot
    return tot, {"mean": np.vstack([o[1] for o in out]), "cov": np.concatenate([o[2] for o in out]), "U": U,
                 "drawn": drawn, "boot": np.concatenate([o[3] for o in out])}


def _rows(rng: np.random.Generator, B: int, S: int) -> np.ndarray:
    """S replicate indices among B: a random order of all B, repeated as needed, so that
    replicates are used evenly (each once when B >= S)."""
    return np.concatenate([rng.permutation(B) for _ in range(-(-S // B))])[:S]


def _by_parent(parent: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    """S x n x C sums of x (S x nodes x C) over the nodes of each parent."""
    S, _, C = x.shape
    idx = (np.arange(S)[:, None] * n + parent[None, :]).ravel()
    return np.stack([np.bincount(idx, x[:, :, c].ravel(), S * n).reshape(S, n) for c in range(C)], axis=2)


def _simulate(f: MultilevelFit, S: int, rng: np.random.Generator, rows: dict | None = None, parts: bool = False):
    C = f.phi.size
    rows = rows or {}
    root_m = np.nan_to_num(f.root_m)
    root_v = np.where(np.isfinite(f.root_v), f.root_v, 0.0)
    theta = root_m[None, None, :] + np.sqrt(root_v)[None, None, :] * _corr_normal(rng, (S, 1, C), np.eye(C))
    if f.crossed is not None:
        theta = _crossed_draw(f.crossed, S, rng)
    last = len(f.levels) - 1
    drawn = []  # per level above the places: (parent, 1 - B, sd, the drawn noise, corr)
    for i, lev in enumerate(f.levels):
        # tau^2 per simulation from its Q-profile confidence distribution
        tau2 = _tau2_draws(lev, S, rng)[:, None, :]
        has = np.isfinite(lev.v)
        g = (lev.slope_boot[rows[i] if i in rows else rng.integers(0, lev.slope_boot.shape[0], S)]
             if lev.slope_boot is not None else None)
        if i == last:
            # places: only the U-weighted sum matters. Places with nothing counted take
            # their parent's draw plus N(0, tau^2): summed by parent. A sum of independent
            # normals is normal, so the place-level noise is drawn as one S x C term.
            nd, d = ~has[:, 0] & (f.U > 0), has[:, 0] & (f.U > 0)
            npar = theta.shape[1]
            Wn = np.bincount(lev.parent[nd], f.U[nd], npar)
            tot = np.einsum("q,sqc->sc", Wn, theta)
            var = tau2[:, 0, :] * (f.U[nd] ** 2).sum()
            if g is not None:
                tot -= g * float((f.U[nd] * lev.shift_base[nd]).sum())
            if d.any():
                v = lev.v[d][None]
                B = tau2 / (tau2 + np.maximum(v, EPS))
                mean = theta[:, lev.parent[d], :] * (1 - B) + B * lev.m[d][None]
                tot += np.einsum("p,spc->sc", f.U[d], mean)
                var = var + np.einsum("p,spc->sc", f.U[d] ** 2, B * v)
            # the terms normal given the rest: drawn as before, and their covariance kept
            sd = np.sqrt(var)
            cov = sd[:, :, None] * sd[:, None, :] * lev.corr[None]
            noise = sd * _corr_normal(rng, (S, C), lev.corr)
            if parts and drawn:
                # given every level's tau^2 draw, the totals are linear in each level's
                # normal draws: their weight on the totals, from the places up (a node's
                # draw reaches its children times 1 - B), moves them to the normal terms
                w = np.broadcast_to(Wn[None, :, None], (S, npar, C)).copy()
                if d.any():
                    w += _by_parent(lev.parent[d], f.U[d][None, :, None] * (1 - B), npar)
                for parent, keep, sd_l, z_l, corr in reversed(drawn):
                    ws = w * sd_l
                    moved = (w * z_l).sum(axis=1)
                    tot -= moved
                    noise += moved
                    cov = cov + np.matmul(ws.transpose(0, 2, 1), ws) * corr[None]
                    w = _by_parent(parent, w * keep, int(parent.max()) + 1)
            break
        v = np.where(has, lev.v, 0.0)[None]
        B = np.where(has[None], tau2 / (tau2 + np.maximum(v, EPS)), 0.0)
        mean = theta[:, lev.parent, :] * (1 - B) + B * np.nan_to_num(lev.m)[None]
        if g is not None:
            mean = mean - lev.shift_base[None, :, None] * g[:, None, :]
        var = np.where(has[None], B * v, tau2)
        z = np.sqrt(var) * _corr_normal(rng, (S, lev.parent.size, C), lev.corr)
        theta = mean + z
        if parts:
            drawn.append((lev.parent, 1 - B, np.sqrt(var), z, lev.corr))
    if f.selection is not None:
        noise += f.selection.draw(S, rng)
        cov = cov + f.selection.cov()[None]
    # table noise on the uncounted tables
    st = np.sqrt(f.phi * f.U.sum())
    noise += st[None, :] * _corr_normal(rng, (S, C), f.table_corr)
    cov = cov + (st[:, None] * st[None, :] * f.table_corr)[None]
    boot = np.zeros((S, 1, C))
    if f.beta_boot is not None:
        r = rows["beta"] if "beta" in rows else rng.integers(0, f.beta_boot.shape[0], S)[:, None]
        bb = f.beta_boot[r]  # S x K x C x covariates
        # beta . D x U, plus the slopes' uncertainty where uncounted places' covariates
        # differ from the counted places' of their stratum (residual means were fitted at beta)
        tot += np.einsum("ck,ck->c", f.DU, f.beta)[None, :]
        boot = np.einsum("sjck,ck->sjc", bb - f.beta[None, None], f.DU - f.DrefU)
        tot += boot[:, 0]
    if parts:
        return tot + noise, tot, cov, boot
    return tot + noise
