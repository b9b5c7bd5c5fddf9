"""Ballot-level comparison audits with overstatement errors.

**Super-simple** (P. B. Stark, "Super-Simple Simultaneous Single-Ballot Risk-Limiting
Audits", EVT/WOTE 2010). Null hypothesis: some reported outcome is wrong, which requires
total overstatement of at least the margin. With diluted margin ``mu`` (smallest margin in
votes over ballots cast), error inflation ``gamma >= 1`` and ``n`` ballots compared, of
which ``o1``/``o2`` show one-/two-vote overstatements and ``u1``/``u2`` understatements,
the risk is::

    P = (1 - mu / (2 gamma)) ** n
        * (1 - 1/(2 gamma)) ** -o1 * (1 - 1/gamma) ** -o2
        * (1 + 1/(2 gamma)) ** -u1 * (1 + 1/gamma) ** -u2

and the initial sample size for no errors is ``n = ceil(-2 gamma ln(alpha) / mu)``
(the paper's rule; it uses ``ln(1 - mu/(2 gamma)) ~= -mu/(2 gamma)``). With expected error
*rates* ``r1, r2, s1, s2`` (per ballot) the same approximation gives::

    n = ceil( -2 gamma (ln alpha) / (mu + 2 gamma (r1 ln(1-1/(2g)) + r2 ln(1-1/g)
                                               + s1 ln(1+1/(2g)) + s2 ln(1+1/g))) )

**Overstatement assorter** for ALPHA (Stark, SHANGRLA 2020 sec. 3.2): for an assertion
with assorter upper bound ``u`` and reported assorter margin ``v = 2 Abar - 1``, a ballot
whose reported assorter value overstates the hand-read one by ``omega`` gets
``B = (1 - omega / u) / (2 - v / u)`` in ``[0, 2u/(2u - v)]``; the assertion holds iff
``mean(B) > 1/2``.

Caveat: comparison audits require each sampled ballot to be matched to its own record
(a cast-vote record). For tally sheets use batch comparison (kaplan_markov).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from escrutinio.audit.risk_result import RiskVerdict
from escrutinio.errors import UsageError

GAMMA = 1.03905


def _check(mu: float, alpha: float, gamma: float) -> None:
    if not 0 < mu <= 1:
        raise UsageError("diluted margin must be in (0, 1]")
    if not 0 < alpha < 1:
        raise UsageError("risk limit must be in (0, 1)")
    if gamma < 1:
        raise UsageError("gamma must be at least 1")


def supersimple_sample_size(diluted_margin: float, risk_limit: float, gamma: float = GAMMA,
                            o1: float = 0.0, o2: float = 0.0, u1: float = 0.0, u2: float = 0.0) -> int:
    """Initial sample size (Stark 2010) for expected error *rates* per ballot."""
    _check(diluted_margin, risk_limit, gamma)
    g = gamma
    denom = diluted_margin + 2 * g * (o1 * math.log(1 - 1 / (2 * g)) + (o2 * math.log(1 - 1 / g) if o2 else 0.0)
                                      + u1 * math.log(1 + 1 / (2 * g)) + u2 * math.log(1 + 1 / g))
    if denom <= 0:
        raise UsageError("with these error rates the audit is not expected to stop: full hand count")
    # tiny epsilon keeps exact products such as 23.999999999 from rounding up by float noise
    return math.ceil(-2 * g * math.log(risk_limit) / denom - 1e-9)


@dataclass
class SuperSimpleResult(RiskVerdict):
    risk: float
    n: int
    o1: int
    o2: int
    u1: int
    u2: int
    diluted_margin: float
    gamma: float
    risk_limit: float | None = None

    def summary(self) -> str:
        return (f"Super-simple comparison: {self.n} ballots, overstatements {self.o1}/{self.o2}, "
                f"understatements {self.u1}/{self.u2}; risk {self.risk:.4g}{self.verdict()}. Caveat: ballots must be "
                "matched to their own cast-vote records.")


def supersimple_risk(n: int, diluted_margin: float, o1: int = 0, o2: int = 0, u1: int = 0, u2: int = 0,
                     gamma: float = GAMMA, risk_limit: float | None = None) -> SuperSimpleResult:
    _check(diluted_margin, risk_limit or 0.5, gamma)
    g = gamma
    if o2 and g == 1:
        risk = 1.0
    else:
        lp = (n * math.log(1 - diluted_margin / (2 * g)) - o1 * math.log(1 - 1 / (2 * g))
              - (o2 * math.log(1 - 1 / g) if o2 else 0.0) - u1 * math.log(1 + 1 / (2 * g))
              - u2 * math.log(1 + 1 / g))
        risk = min(1.0, math.exp(lp))
    return SuperSimpleResult(risk, n, o1, o2, u1, u2, diluted_margin, gamma, risk_limit)


def overstatement_assorter(omega, reported_margin: float, u: float = 1.0) -> np.ndarray:
    """SHANGRLA's comparison assorter ``B`` for overstatements ``omega`` (reported minus
    hand-read assorter value, per ballot)."""
    if not 0 < reported_margin <= 1 * 2 * u:
        raise UsageError("reported assorter margin must be positive")
    omega = np.asarray(omega, dtype=np.float64)
    return (1 - omega / u) / (2 - reported_margin / u)


def comparison_population(N: int, reported_margin: float, o1: float = 0.0, o2: float = 0.0,
                          u1: float = 0.0, u2: float = 0.0, u: float = 1.0) -> np.ndarray:
    """Overstatement-assorter values of ``N`` ballots with the given error *rates*
    (``o1``/``o2``: one-/two-vote overstatements, i.e. ``omega = u/2`` and ``u``;
    ``u1``/``u2``: understatements)."""
    counts = [round(o1 * N), round(o2 * N), round(u1 * N), round(u2 * N)]
    if sum(counts) > N:
        raise UsageError("error rates add up to more than 1")
    omega = np.concatenate([np.full(counts[0], u / 2), np.full(counts[1], u), np.full(counts[2], -u / 2),
                            np.full(counts[3], -u), np.zeros(N - sum(counts))])
    return overstatement_assorter(omega, reported_margin, u)


def alpha_comparison_sample_sizes(N: int, reported_margin: float, risk_limit: float, o1: float = 0.0,
                                  o2: float = 0.0, u1: float = 0.0, u2: float = 0.0, reps: int = 1000,
                                  d: float = 100.0, with_replacement: bool = False, seed: int = 0,
                                  eta_factor: float = 1.75, estimator: str = "fixed",
                                  max_n: int | None = None) -> np.ndarray:
    """Simulated sample sizes of ballot-level comparison audits with ALPHA on the
    overstatement assorter (Stark 2023 sec. 5; SHANGRLA sec. 3.2).

    For comparison audits the assorter is nearly constant (the error-free value
    ``1/(2 - v)``), so the best bet is *above* that value: the default bets
    ``eta = 1.75 / (2 - v)`` (upper bound ``2 / (2 - v)``); shrinking toward the sample mean
    would throw that away. Any ``eta`` below the upper bound keeps the risk limit; a
    two-vote overstatement then costs a factor ``(u - eta) / (u - 1/2)``."""
    from escrutinio.audit.alpha import alpha_sample_sizes

    pop = comparison_population(N, reported_margin, o1, o2, u1, u2)
    upper = 2 / (2 - reported_margin)
    eta0 = eta_factor / (2 - reported_margin)
    if not 1 <= eta_factor < 2:
        raise UsageError("eta_factor must be in [1, 2)")
    return alpha_sample_sizes(pop, eta0=eta0, risk_limit=risk_limit, reps=reps, u=upper, d=d,
                              with_replacement=with_replacement, seed=seed, estimator=estimator,
                              max_n=max_n if max_n is not None or not with_replacement else 2 * N)
