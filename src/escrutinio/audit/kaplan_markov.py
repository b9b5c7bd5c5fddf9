"""Batch-level comparison audits of tally sheets: MACRO with the Kaplan-Markov P-value.

Papers: P. B. Stark, "Risk-limiting post-election audits: P-values from common
probability inequalities", IEEE Trans. Inf. Forensics Security 4 (2009) (the Kaplan-Markov
bound); P. B. Stark, "Efficient post-election audits of multiple contests: 2009 California
tests" (2009) (MACRO: maximum across-contest relative overstatement, sampling with
probability proportional to an error bound). Assertions as in SHANGRLA (Stark 2020).

Model. A batch ``p`` is one polling table (mesa): its tally sheet reports valid votes per
choice; its ballot box holds at most ``c_p`` ballots (``c_p`` = registered voters, or the
reported ballots if larger). Every slot that is not a reported valid vote is neutral
(assorter 1/2): blank, null, and unused slots. For assertion ``a`` the batch's reported
assorter total is ``A_pa``; its margin in assorter units is ``M_a = sum_p A_pa - sum_p c_p/2``
(``> 0`` iff the assertion holds as reported). The hand count gives ``A*_pa``, the
overstatement is ``omega_pa = A_pa - A*_pa`` and ``e_pa = omega_pa / M_a``. The assertion is
false only if ``sum_p e_pa >= 1``. Since ``A*_pa >= 0``, ``e_pa <= u_pa = A_pa / M_a``.

MACRO bound ``u_p = max_a u_pa``, ``U = sum_p u_p``. Draw batches with replacement with
probability ``u_p / U``; the taint of a draw is ``t = e_pa / u_p <= 1``.

Null hypothesis: assertion ``a`` is false. Statistic (Kaplan-Markov)::

    P_a = prod_{draws j} (1 - 1/U) / (1 - t_ja)

(``t = 1``, e.g. a sampled table whose ballots cannot be found, makes ``P`` infinite:
only a full hand count settles it.) With no discrepancies the sample size is
``n = ceil(ln(alpha) / ln(1 - 1/U))``.

Worst case for tables without a usable tally sheet (missing, annulled, unreadable)
("phantoms to evil zombies", Banuelos & Stark 2012): their reported assorter total is set
to 0, as if every one of their ``c_p`` ballots went against the assertion. The reported
margin shrinks accordingly, and a hand count of such a table can only understate, so
their bound is 0 and they are never drawn. If the assertion does not survive this worst
case, the audit cannot start: those tables must be counted first.

Caveat: this bounds the chance of confirming a wrong *outcome*; it says nothing about
who made an error or why. A discrepancy is not evidence of fraud.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict, field
from typing import Sequence

import numpy as np

from escrutinio.audit.assertions import Assertion
from escrutinio.errors import UsageError


@dataclass
class BatchModel:
    """Reported side of a batch-comparison audit: one row per batch, one column per
    assertion."""

    ids: list[str]
    assertions: list[Assertion]
    reported: np.ndarray  # (P, A) reported assorter totals A_pa (slots included)
    slots: np.ndarray  # (P,) c_p
    margins: np.ndarray  # (A,) M_a in assorter units
    bounds: np.ndarray  # (P,) MACRO u_p
    missing: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (P,) no usable tally

    @property
    def total_bound(self) -> float:
        return float(self.bounds.sum())

    def index(self) -> dict[str, int]:
        return {b: i for i, b in enumerate(self.ids)}


def build_batches(assertions: Sequence[Assertion], ids: Sequence[str], votes: np.ndarray,
                  choices: Sequence[str], slots: np.ndarray, missing: np.ndarray | None = None) -> BatchModel:
    """Reported assorter totals, margins and MACRO error bounds for batches.

    ``votes`` (P x K) are reported valid votes per choice (zeros for missing tallies),
    ``slots`` (P,) the ballot bound per batch."""
    votes = np.asarray(votes, dtype=np.float64)
    slots = np.asarray(slots, dtype=np.float64)
    P = votes.shape[0]
    if votes.shape != (P, len(choices)) or slots.shape != (P,) or len(ids) != P:
        raise UsageError("votes, choices, slots and ids do not fit together")
    if np.any(votes < 0) or np.any(~np.isfinite(votes)):
        raise UsageError("votes must be finite and non-negative")
    missing = np.zeros(P, bool) if missing is None else np.asarray(missing, bool)
    votes = np.where(missing[:, None], 0.0, votes)
    slots = np.maximum(slots, votes.sum(axis=1))
    if np.any(slots <= 0):
        raise UsageError("every batch needs a positive ballot bound (registered voters)")
    rep = np.column_stack([a.batch_totals(votes, choices, slots) for a in assertions])
    rep[missing] = 0.0  # worst case: every slot against the assertion
    margins = rep.sum(axis=0) - slots.sum() / 2
    bad = [a.name for a, m in zip(assertions, margins) if m <= 0]
    if bad:
        if missing.any():
            raise UsageError(
                f"assertions {bad} do not hold once the {int(missing.sum())} tables without a usable tally are "
                "counted as worst case (every ballot against the reported winner): count those tables first")
        raise UsageError(f"assertions do not hold on the reported results: {bad}")
    bounds = (rep / margins).max(axis=1)
    return BatchModel(list(map(str, ids)), list(assertions), rep, slots, margins, bounds, missing)


REST_ID = "(batches not in the file)"


def build_published(assertions: Sequence[Assertion], ids: Sequence[str], votes: np.ndarray,
                    choices: Sequence[str], slots: np.ndarray, margins: np.ndarray,
                    total_bound: float | None) -> BatchModel:
    """The reported side of an audit published as its sampled batches only (Lindeman's
    CA-CD3 file, a county's audit report): the margins ``M_a`` come from the whole
    contest's totals, not from the file, and so does ``U``.

    Every batch of the file keeps its own bound ``u_p = max_a A_pa / M_a``; the batches
    that are not in the file enter only through ``U``: one pseudo-batch, never drawn,
    carries ``U - sum_p u_p``. The taint of a draw, ``e_pa / u_p``, needs only the drawn
    batch and ``M_a``; ``U`` enters through ``(1 - 1/U)``. A ``U`` larger than the true
    one (an upper bound) gives a larger, still valid, P-value: under the null
    ``E[t] = sum_p e_p / U_true >= 1 / U``. ``total_bound=None``: the file's batches
    alone (their own sum)."""
    votes = np.asarray(votes, dtype=np.float64)
    slots = np.asarray(slots, dtype=np.float64)
    P = votes.shape[0]
    if votes.shape != (P, len(choices)) or slots.shape != (P,) or len(ids) != P:
        raise UsageError("votes, choices, slots and ids do not fit together")
    if np.any(votes < 0) or np.any(~np.isfinite(votes)):
        raise UsageError("votes must be finite and non-negative")
    margins = np.asarray(margins, dtype=np.float64)
    bad = [a.name for a, m in zip(assertions, margins) if not m > 0]
    if bad:
        raise UsageError(f"assertions {bad} do not hold on the contest's totals: there is no outcome to confirm")
    slots = np.maximum(slots, votes.sum(axis=1))
    rep = np.column_stack([a.batch_totals(votes, choices, slots) for a in assertions])
    bounds = (rep / margins).max(axis=1)
    inside = float(bounds.sum())
    if total_bound is None:
        total_bound = inside
    if not math.isfinite(total_bound) or total_bound < inside - 1e-9:
        raise UsageError(f"U = {total_bound:g} is smaller than the error bounds of the {P} batches in the file alone "
                         f"({inside:.4f}): it cannot be the contest's total error bound")
    rest = max(0.0, total_bound - inside)
    return BatchModel([*map(str, ids), REST_ID], list(assertions), np.vstack([rep, np.zeros((1, len(assertions)))]),
                      np.append(slots, 0.0), margins, np.append(bounds, rest), np.zeros(P + 1, bool))


def taints(model: BatchModel, rows: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Taints ``t_ja = (A_pa - A*_pa) / (M_a u_p)`` for batches ``rows`` whose hand counts give
    assorter totals ``actual`` (len(rows) x A). A missing ballot box is ``actual = 0``."""
    rows = np.asarray(rows, dtype=np.int64)
    e = (model.reported[rows] - np.asarray(actual, dtype=np.float64)) / model.margins
    return e / model.bounds[rows][:, None]


def macro_taints(model: BatchModel, rows: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """MACRO taint of each draw: the worst (largest) taint over all assertions,
    ``t_j = max_a e_pa / u_p`` (Stark 2009, "Efficient post-election audits of multiple
    contests"). One Kaplan-Markov product over these taints bounds the risk of every
    assertion at once, so a batch's overstatement of one assertion is never offset by
    its understatement of another."""
    return taints(model, rows, actual).max(axis=1)


def macro_risk(t_macro: np.ndarray, total_bound: float) -> float:
    """The MACRO Kaplan-Markov P-value: ``prod_j (1 - 1/U) / (1 - t_j)`` over the draws'
    MACRO taints (``t_j >= 1`` gives 1: only a full hand count settles it)."""
    t = np.asarray(t_macro, dtype=np.float64).reshape(-1, 1)
    if t.size == 0:
        return 1.0
    return float(km_risk(t, total_bound)[0])


def km_risk(t: np.ndarray, total_bound: float) -> np.ndarray:
    """Kaplan-Markov P-value per assertion from the taints of the draws (n x A); a batch
    drawn twice counts twice."""
    if total_bound <= 1:
        raise UsageError("total error bound U <= 1: the outcome is certain")
    t = np.atleast_2d(np.asarray(t, dtype=np.float64))
    with np.errstate(divide="ignore"):
        logs = math.log(1 - 1 / total_bound) - np.log1p(-np.minimum(t, 1.0))
    lp = logs.sum(axis=0)
    return np.minimum(1.0, np.exp(lp))


def km_zero_error_size(total_bound: float, risk_limit: float) -> int:
    """Draws needed if no discrepancy is found."""
    if not 0 < risk_limit < 1:
        raise UsageError("risk limit must be in (0, 1)")
    if total_bound <= 1:
        return 0
    return math.ceil(math.log(risk_limit) / math.log(1 - 1 / total_bound))


@dataclass
class BatchSizeEstimate:
    risk_limit: float
    batches: int
    total_bound: float
    zero_discrepancy: int
    expected: float | None = None
    quantiles: dict = field(default_factory=dict)
    escalation_rate: float | None = None
    reps: int = 0
    distinct_expected: float | None = None
    scenario: str = "no discrepancies"

    def summary(self) -> str:
        s = (f"Batch comparison (MACRO / Kaplan-Markov) over {self.batches} tally sheets at risk limit "
             f"{self.risk_limit:g}: total error bound U = {self.total_bound:.2f}; {self.zero_discrepancy} draws "
             "if no discrepancy is found")
        if self.expected is not None:
            s += (f"; with discrepancies ({self.scenario}) expected {self.expected:.1f} draws "
                  f"(quantiles {self.quantiles}), full hand count in {100 * self.escalation_rate:.1f}% of "
                  f"{self.reps} simulated audits")
        return s + ". Draws are with replacement; distinct tables can be fewer."

    def to_dict(self) -> dict:
        return asdict(self)


def km_simulate(bounds: np.ndarray, batch_taints: np.ndarray, risk_limit: float, reps: int = 1000,
                max_n: int = 5000, seed: int = 0, quantiles=(0.5, 0.75, 0.9, 0.99)) -> tuple[np.ndarray, np.ndarray]:
    """Simulated MACRO audits: draws ``p`` with probability ``u_p/U``; each draw of batch
    ``p`` shows taint ``batch_taints[p]`` (the worst assertion). Returns (draws to stop,
    distinct batches drawn); ``max_n + 1`` means escalation to a full count."""
    bounds = np.asarray(bounds, dtype=np.float64)
    U = bounds.sum()
    rng = np.random.default_rng(seed)
    cum = np.cumsum(bounds) / U
    bt = np.minimum(np.asarray(batch_taints, dtype=np.float64), 1.0)
    with np.errstate(divide="ignore"):
        step_of = math.log(1 - 1 / U) - np.log1p(-bt)  # per-batch log factor, computed once
    n = np.empty(reps, dtype=np.int64)
    distinct = np.empty(reps, dtype=np.int64)
    chunk = max(1, min(reps, 2_000_000 // max_n))  # bounds memory; each chunk is vectorised
    zero = km_zero_error_size(U, risk_limit) if U > 1 else 1
    block = max(64, 2 * zero)
    thr = math.log(risk_limit)
    for s0 in range(0, reps, chunk):
        k = min(chunk, reps - s0)
        # draw columns block by block until every simulated audit has stopped: most stop
        # near the zero-discrepancy size, so the full horizon is rarely generated
        parts, lp_end, nk = [], np.zeros(k), np.full(k, max_n + 1)
        done = 0
        while done < max_n and (nk > max_n).any():
            w = min(block, max_n - done)
            d = np.minimum(np.searchsorted(cum, rng.random((k, w)), side="right"), bounds.size - 1)
            lp = lp_end[:, None] + np.cumsum(step_of[d], axis=1)
            hit = lp <= thr
            first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1 + done, max_n + 1)
            nk = np.where(nk > max_n, first, nk)
            lp_end = lp[:, -1]
            parts.append(d)
            done += w
        draws = np.concatenate(parts, axis=1)
        width = int(min(draws.shape[1], nk.max()))
        # distinct tables to hand-count among the first n draws
        marked = np.where(np.arange(width)[None, :] < nk[:, None], draws[:, :width], -1)
        marked.sort(axis=1)
        distinct[s0:s0 + k] = ((np.diff(marked, axis=1) != 0) & (marked[:, 1:] >= 0)).sum(axis=1) + (marked[:, 0] >= 0)
        n[s0:s0 + k] = nk
    return n, distinct


def estimate(model: BatchModel, risk_limit: float, batch_taints: np.ndarray | None = None,
             reps: int = 1000, max_n: int = 5000, seed: int = 0, scenario: str = "") -> BatchSizeEstimate:
    """Sample size: the exact zero-discrepancy size and, if ``batch_taints`` is given, the
    simulated distribution of draws when sampled tables show those taints."""
    U = model.total_bound
    est = BatchSizeEstimate(risk_limit, len(model.ids), U, km_zero_error_size(U, risk_limit))
    if batch_taints is not None:
        n, distinct = km_simulate(model.bounds, batch_taints, risk_limit, reps, max_n, seed)
        est.expected = float(np.mean(n))
        est.distinct_expected = float(np.mean(distinct))
        est.quantiles = {f"q{int(q * 100)}": int(np.quantile(n, q)) for q in (0.5, 0.75, 0.9, 0.99)}
        est.escalation_rate = float(np.mean(n > max_n))
        est.reps = reps
        est.scenario = scenario or "given taints"
    return est
