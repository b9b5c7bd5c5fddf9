"""BRAVO ballot-polling audit (Lindeman, Stark & Yates, "BRAVO: Ballot-polling
Risk-limiting Audits to Verify Outcomes", EVT/WOTE 2012).

Null hypothesis: the reported winner ``w`` did not really beat the reported loser ``l``
(``s_w <= 1/2``, where ``s_w`` is ``w``'s share of the ballots for ``w`` or ``l``).
Statistic: Wald's sequential probability ratio against the alternative that the reported
share ``s_w`` is right; after drawing ballots (with replacement) showing ``k_w`` votes for
``w`` and ``k_l`` for ``l``::

    T = (2 s_w) ** k_w * (2 - 2 s_w) ** k_l

Other ballots leave ``T`` unchanged. The risk (p-value) is ``min(1, 1/max T)`` over the
draws; by Ville's inequality it is valid however long the audit runs. Caveat: BRAVO
assumes sampling with replacement and that the reported shares are the alternative; if
they are wrong although the outcome is right, the sample can become very large.

Average sample number (ASN) for a two-choice contest (BRAVO paper, sec. 4), with ``p_w``,
``p_l`` the shares of all ballots, ``z_w = ln(2 s_w)``, ``z_l = ln(2 - 2 s_w)``::

    ASN ~= (ln(1/alpha) + z_w / 2) / (p_w z_w + p_l z_l)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from escrutinio.audit.risk_result import RiskVerdict
from escrutinio.errors import UsageError


@dataclass
class BravoResult(RiskVerdict):
    risk: float
    log_ratio: float
    reported_winner: int
    reported_loser: int
    sample_winner: int
    sample_loser: int
    risk_limit: float | None = None

    def summary(self) -> str:
        s = (f"BRAVO: {self.sample_winner} sampled ballots for the reported winner, "
             f"{self.sample_loser} for the loser; risk {self.risk:.10g}")
        s += self.verdict()
        return s + ". The risk is the chance of seeing this much evidence if the outcome were wrong."


def _share(reported_winner: int, reported_loser: int) -> float:
    if reported_winner <= reported_loser:
        raise UsageError("BRAVO needs the reported winner to have more votes than the loser")
    return reported_winner / (reported_winner + reported_loser)


def bravo_risk(reported_winner: int, reported_loser: int, sample_winner: int, sample_loser: int,
               risk_limit: float | None = None) -> BravoResult:
    """Risk after a round of BRAVO from tallies (``1 / T`` at the end of the round,
    as Colorado reports it)."""
    s = _share(reported_winner, reported_loser)
    lt = sample_winner * math.log(2 * s) + sample_loser * math.log(2 - 2 * s)
    return BravoResult(min(1.0, math.exp(-lt)), lt, reported_winner, reported_loser,
                       sample_winner, sample_loser, risk_limit)


def bravo_sequential(reported_winner: int, reported_loser: int, draws: Sequence[int]) -> np.ndarray:
    """Running risk ``min(1, 1/max_{k<=j} T_k)`` for a sequence of draws coded
    1 (winner), 0 (loser), anything else (neither)."""
    s = _share(reported_winner, reported_loser)
    d = np.asarray(draws)
    step = np.where(d == 1, math.log(2 * s), np.where(d == 0, math.log(2 - 2 * s), 0.0))
    lt = np.maximum.accumulate(np.cumsum(step, axis=-1), axis=-1)
    return np.minimum(1.0, np.exp(-lt))


def bravo_asn(p_winner: float, p_loser: float, risk_limit: float) -> int:
    """BRAVO's average sample number (formula of the BRAVO paper), rounded up."""
    if not 0 < risk_limit < 1:
        raise UsageError("risk limit must be in (0, 1)")
    if p_winner <= p_loser or p_loser < 0 or p_winner + p_loser > 1 + 1e-12:
        raise UsageError("shares must satisfy p_winner > p_loser >= 0 and sum to at most 1")
    s = p_winner / (p_winner + p_loser)
    zw, zl = math.log(2 * s), math.log(2 - 2 * s)
    return math.ceil((math.log(1 / risk_limit) + zw / 2) / (p_winner * zw + p_loser * zl))


def bravo_simulate(p_winner: float, p_loser: float, risk_limit: float, reps: int = 1000,
                   max_n: int | None = None, true_winner: float | None = None,
                   true_loser: float | None = None, seed: int = 0) -> np.ndarray:
    """Sample sizes of ``reps`` simulated BRAVO audits (draws with replacement); audits
    that do not stop by ``max_n`` report ``max_n + 1`` (escalation to a full count).

    The test uses the reported shares; the ballots come from the true shares (default:
    the reported ones)."""
    tw = p_winner if true_winner is None else true_winner
    tl = p_loser if true_loser is None else true_loser
    s = p_winner / (p_winner + p_loser)
    if max_n is None:
        max_n = 20 * bravo_asn(p_winner, p_loser, risk_limit) + 100
    rng = np.random.default_rng(seed)
    u = rng.random((reps, max_n))
    step = np.where(u < tw, math.log(2 * s), np.where(u < tw + tl, math.log(2 - 2 * s), 0.0))
    hit = np.cumsum(step, axis=1) >= math.log(1 / risk_limit)
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, max_n + 1)
