"""Outcome probabilities under the law: a presidential rule applied to every simulation's
integer totals with exact integer comparisons (no float rounding decides an outcome)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from escrutinio.errors import UsageError


def bolivia_outcomes(totals: np.ndarray) -> np.ndarray:
    """Vectorised art. 166 on integer totals (simulations x valid choices).

    Returns an array of 'first_round_win' / 'runoff'. Exact integer arithmetic: share > 50%
    is ``2*top > valid``; share >= 40% is ``10*top >= 4*valid``; lead >= 10 points is
    ``10*(top - second) >= valid``.
    """
    t = np.asarray(totals, dtype=np.int64)
    if t.shape[1] < 2:
        return np.full(t.shape[0], "first_round_win", dtype=object)
    part = -np.partition(-t, 1, axis=1)
    top, second = part[:, 0], part[:, 1]
    valid = t.sum(axis=1)
    win = (2 * top > valid) | ((10 * top >= 4 * valid) & (10 * (top - second) >= valid))
    return np.where(win, "first_round_win", "runoff").astype(object)


def rule_outcomes(rule, totals: np.ndarray) -> np.ndarray:
    """Vectorised :class:`escrutinio.law.presidential.PresidentialRule` on integer totals
    (simulations x valid choices): every clause is compared on integers, ``q*top >= p*valid``
    for a share line ``p/q``, so no float rounding decides an outcome."""
    from fractions import Fraction

    t = np.asarray(totals, dtype=np.int64)
    part = -np.partition(-t, 1, axis=1) if t.shape[1] > 1 else np.hstack([t, np.zeros_like(t)])
    top, second = part[:, 0], part[:, 1]
    valid = t.sum(axis=1)
    if getattr(rule, "kind", "threshold") == "plurality" or not rule.clauses:
        return np.where(top > second, "winner", "tie").astype(object)
    win = np.zeros(t.shape[0], bool)
    for c in rule.clauses:
        p = Fraction(c.min_share)
        lhs, rhs = p.denominator * top, p.numerator * valid
        ok = lhs > rhs if c.share_strict else lhs >= rhs
        if c.min_lead is not None:
            q = Fraction(c.min_lead)
            l_lhs, l_rhs = q.denominator * (top - second), q.numerator * valid
            ok &= (l_lhs > l_rhs) if c.lead_strict else (l_lhs >= l_rhs)
        win |= ok
    return np.where(win, "first_round_win", "runoff").astype(object)


def _law_rule(rule) -> Callable[[np.ndarray], np.ndarray]:
    if rule is None or rule == "bolivia":
        try:
            from escrutinio.law import presidential

            preset = presidential.preset("bolivia")
            return lambda t: rule_outcomes(preset, t)
        except Exception:  # the law module is optional for this capability
            return bolivia_outcomes
    if isinstance(rule, str):
        from escrutinio.law import presidential

        preset = presidential.preset(rule)
        return lambda t: rule_outcomes(preset, t)
    if hasattr(rule, "clauses"):
        return lambda t: rule_outcomes(rule, t)
    if callable(rule):
        return rule
    raise UsageError(f"unknown rule {rule!r}")
