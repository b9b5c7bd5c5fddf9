"""Sample-size estimation for every audit method, by formula or by simulation, in the
spirit of rlacalc: the same numbers the CLI prints with ``escrutinio audit sample-size``.

* ``bravo``: BRAVO's average sample number formula (Lindeman, Stark & Yates 2012);
  quantiles by simulating BRAVO with replacement.
* ``supersimple``: Stark (2010) ``n = ceil(-2 gamma ln(alpha) / mu)`` (with optional
  expected error rates); the formula is the planning rule of the paper, so no quantiles.
* ``alpha``: ALPHA ballot polling with truncated shrinkage (Stark 2023), by simulation
  (there is no closed form); expected = mean draws, plus quantiles.
* ``macro``: batch comparison (kaplan_markov): exact size for no discrepancies, simulation
  for given taints.

All simulations are vectorised numpy and seeded, so they are reproducible.
"""
from __future__ import annotations

from dataclasses import dataclass, field, asdict

import numpy as np

from escrutinio.audit import alpha as _alpha
from escrutinio.audit import bravo as _bravo
from escrutinio.audit import comparison as _cmp
from escrutinio.errors import UsageError

QUANTILES = (0.5, 0.75, 0.9, 0.99)


@dataclass
class SampleSize:
    method: str
    risk_limit: float
    expected: float | int
    basis: str
    quantiles: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)

    def summary(self) -> str:
        s = f"{self.method}: expected sample size {self.expected} at risk limit {self.risk_limit:g} ({self.basis})"
        if self.quantiles:
            s += "; quantiles " + ", ".join(f"{k}={v}" for k, v in self.quantiles.items())
        return s + ". Expected sizes assume the reported results are right; errors make audits larger."

    def to_dict(self) -> dict:
        return asdict(self)


def _quantiles(n: np.ndarray) -> dict:
    return {f"q{int(q * 100)}": int(np.quantile(n, q)) for q in QUANTILES}


def _two_shares(shares) -> tuple[float, float]:
    s = sorted((float(x) for x in shares), reverse=True)
    if len(s) < 2 or s[0] <= s[1] or any(x < 0 for x in s) or sum(s) > 1 + 1e-9:
        raise UsageError("shares: at least two non-negative numbers, a unique leader, summing to at most 1")
    return s[0], s[1]


def bravo(shares, risk_limit: float, simulate: int = 0, seed: int = 0) -> SampleSize:
    pw, pl = _two_shares(shares)
    asn = _bravo.bravo_asn(pw, pl, risk_limit)
    q = _quantiles(_bravo.bravo_simulate(pw, pl, risk_limit, reps=simulate, seed=seed)) if simulate else {}
    return SampleSize("bravo", risk_limit, asn, "average sample number, BRAVO paper formula", q,
                      {"p_winner": pw, "p_loser": pl, "simulations": simulate})


def supersimple(diluted_margin: float, risk_limit: float, gamma: float = _cmp.GAMMA, o1=0.0, o2=0.0,
                u1=0.0, u2=0.0) -> SampleSize:
    n = _cmp.supersimple_sample_size(diluted_margin, risk_limit, gamma, o1, o2, u1, u2)
    return SampleSize("supersimple", risk_limit, n, "Stark (2010) formula", {},
                      {"diluted_margin": diluted_margin, "gamma": gamma, "o1": o1, "o2": o2, "u1": u1, "u2": u2})


def alpha_polling(shares, risk_limit: float, population: int | None = None, reps: int = 1000,
                  d: float = 100.0, seed: int = 0, estimator: str = "shrink_trunc") -> SampleSize:
    """ALPHA ballot polling for a two-choice assertion: ballots for the winner are 1, for
    the loser 0, others 1/2. ``population`` None samples with replacement (large N)."""
    s = sorted((float(x) for x in shares), reverse=True)
    pw, pl = _two_shares(s)
    other = max(0.0, 1 - pw - pl)
    eta0 = pw + other / 2
    if population is None:
        # an exact population of 100,000 ballots stands in for the electorate when drawing
        # with replacement
        size = 100_000
        with_replacement = True
    else:
        size, with_replacement = int(population), False
    kw, kl = round(pw * size), round(pl * size)
    pop = np.concatenate([np.ones(kw), np.zeros(kl), np.full(size - kw - kl, 0.5)])
    max_n = None if not with_replacement else int(40 * _bravo.bravo_asn(pw, pl, risk_limit) + 200)
    n = _alpha.alpha_sample_sizes(pop, eta0=eta0, risk_limit=risk_limit, reps=reps, d=d, seed=seed,
                                  with_replacement=with_replacement, max_n=max_n, estimator=estimator)
    return SampleSize("alpha", risk_limit, round(float(np.mean(n)), 1), f"mean of {reps} simulated audits",
                      _quantiles(n), {"p_winner": pw, "p_loser": pl, "eta0": eta0, "d": d,
                                      "population": population, "estimator": estimator})
