"""ALPHA betting martingale (P. B. Stark, "ALPHA: Audit that Learns from Previously
Hand-Audited Ballots", Annals of Applied Statistics 17(1), 2023).

Null hypothesis: the mean of the assorter over the population is at most ``mu``
(1/2 for an assertion). Values are in ``[0, u]``. Statistic: the nonnegative
supermartingale

    T_j = prod_{i<=j} ( x_i * eta_i / mu_i + (u - x_i) * (u - eta_i) / (u - mu_i) ) / u

where ``mu_i`` is the null mean of the *remaining* population (sampling without
replacement: ``(N mu - S_{i-1}) / (N - i + 1)``; with replacement ``mu``) and ``eta_i``
is a predictable estimate of the true mean (it may use only draws before ``i``).
Risk (p-value): ``min(1, 1 / max_{k<=j} T_k)`` (Ville's inequality). If ``mu_i <= 0`` the
null is impossible (risk 0); if ``mu_i >= u`` the remaining ballots cannot be below the
null (the factor is 0 from then on, since ``x <= u``).

Truncated shrinkage (paper eq. 13)::

    eta_i = min( u * (1 - 1e-12),
                 max( (d * eta_0 + S_{i-1}) / (d + i - 1),  mu_i + c / sqrt(d + i - 1) ) )

``eta_0`` is the reported mean (the alternative), ``d`` how many draws' worth of weight
it gets, and ``c`` sets the lower truncation ``mu_i + c / sqrt(d + i - 1)``. The default
``c = 1/2`` reproduces the paper's published mean sample sizes (702 / 160 / 40 at true
means 0.55 / 0.60 / 0.70, alpha = 0.05, d = 100, eta_0 = theta, sampling with
replacement); ``c = (eta_0 - mu) / 2``, the example in the paper's text, gives about 720 /
163 / 39. Any ``c >= 0`` keeps the test valid. With ``estimator="fixed"`` the bet is
``eta_i = eta_0`` (BRAVO's SPRT generalised to bounded values).

Caveat: ALPHA limits the risk whatever the estimator; a poor ``eta_0`` only costs sample
size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from escrutinio.audit.risk_result import RiskVerdict
from escrutinio.errors import UsageError


@dataclass
class AlphaResult(RiskVerdict):
    risk: float
    n: int
    sample_mean: float
    eta0: float
    upper_bound: float
    population: int | None
    risk_limit: float | None = None

    def summary(self) -> str:
        s = (f"ALPHA: {self.n} draws, sample mean {self.sample_mean:.4f} (null: mean <= 1/2); "
             f"risk {self.risk:.4g}")
        s += self.verdict()
        return s + ". Caveat: valid for the sampling design declared (with/without replacement)."


def alpha_log_martingale(x, *, eta0: float, u: float = 1.0, mu: float = 0.5, N: int | None = None,
                         d: float = 100.0, c: float | None = 0.5, estimator: str = "shrink_trunc"):
    """log T_j along the last axis of ``x`` (vectorised over leading axes).

    Returns ``-inf``-free logs: an impossible null gives ``+inf``; a null that the
    remaining population must satisfy gives ``-inf`` from then on.
    """
    x = np.asarray(x, dtype=np.float64)
    if np.any(x < 0) or np.any(x > u * (1 + 1e-12)):
        raise UsageError("assorter values must lie in [0, u]")
    n = x.shape[-1]
    j = np.arange(1, n + 1, dtype=np.float64)
    s_prev = np.cumsum(x, axis=-1) - x
    if N is None:
        mu_j = np.full_like(x, mu)
    else:
        if n > N:
            raise UsageError("more draws than the population without replacement")
        mu_j = (N * mu - s_prev) / (N - j + 1)
    if estimator == "fixed":
        eta = np.full_like(x, eta0)
    elif estimator == "shrink_trunc":
        cc = (eta0 - mu) / 2 if c is None else c  # None: the paper's textual example
        eta = np.maximum((d * eta0 + s_prev) / (d + j - 1), mu_j + cc / np.sqrt(d + j - 1))
    else:
        raise UsageError(f"unknown estimator {estimator!r}")
    eta = np.minimum(eta, u * (1 - 1e-12))
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = (mu_j > 0) & (mu_j < u)
        eta = np.maximum(eta, np.where(inside, mu_j, 0.0))
        factor = (x * eta / mu_j + (u - x) * (u - eta) / (u - mu_j)) / u
        logf = np.where(inside, np.log(np.where(inside, factor, 1.0)),
                        np.where(mu_j <= 0, np.inf, -np.inf))
    # once the null is impossible (or certain) it stays so
    return np.cumsum(logf, axis=-1)


def alpha_risk(x, *, eta0: float, u: float = 1.0, mu: float = 0.5, N: int | None = None,
               d: float = 100.0, c: float | None = 0.5, estimator: str = "shrink_trunc",
               risk_limit: float | None = None) -> AlphaResult:
    """Risk after the draws ``x`` (assorter values in draw order)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return AlphaResult(1.0, 0, float("nan"), eta0, u, N, risk_limit)
    lt = alpha_log_martingale(x, eta0=eta0, u=u, mu=mu, N=N, d=d, c=c, estimator=estimator)
    best = float(np.max(lt))
    risk = 0.0 if best == math.inf else min(1.0, math.exp(-best)) if best > -math.inf else 1.0
    return AlphaResult(risk, int(x.size), float(x.mean()), eta0, u, N, risk_limit)


def alpha_sample_sizes(population: np.ndarray, *, eta0: float, risk_limit: float, reps: int = 1000,
                       u: float = 1.0, d: float = 100.0, c: float | None = 0.5, estimator: str = "shrink_trunc",
                       with_replacement: bool = False, max_n: int | None = None,
                       seed: int = 0, chunk: int = 200) -> np.ndarray:
    """Sample sizes of ``reps`` simulated ALPHA audits drawing from ``population``
    (assorter values). Audits that have not stopped by ``max_n`` (default: the population
    size) report ``max_n + 1`` (full hand count)."""
    pop = np.asarray(population, dtype=np.float64)
    N = pop.size
    max_n = (N if not with_replacement else 20 * N) if max_n is None else max_n
    if not with_replacement:
        max_n = min(max_n, N)
    rng = np.random.default_rng(seed)
    out = np.empty(reps, dtype=np.int64)
    thr = math.log(1 / risk_limit)
    chunk = max(1, min(chunk, 4_000_000 // max(1, max_n if with_replacement else N)))
    for start in range(0, reps, chunk):  # chunks bound memory (~32 MB per array); each is vectorised
        k = min(chunk, reps - start)
        if with_replacement:
            x = pop[rng.integers(0, N, size=(k, max_n))]
        else:
            x = pop[np.argsort(rng.random((k, N)), axis=1)[:, :max_n]]
        lt = alpha_log_martingale(x, eta0=eta0, u=u, N=None if with_replacement else N, d=d, c=c,
                                  estimator=estimator)
        hit = lt >= thr
        out[start:start + k] = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, max_n + 1)
    return out
