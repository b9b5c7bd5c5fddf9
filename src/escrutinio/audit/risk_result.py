"""What every risk-measuring audit result shares: a measured risk, judged against the
risk limit when one is given. One definition, so that BRAVO, ALPHA, comparison and
stratified audits confirm, print and serialise their verdict the same way."""
from __future__ import annotations

from dataclasses import asdict


class RiskVerdict:
    """Mixin for dataclasses with fields ``risk`` and ``risk_limit`` (None: no limit)."""

    risk: float
    risk_limit: float | None

    @property
    def confirmed(self) -> bool | None:
        """True when the measured risk is within the limit; None when no limit was given."""
        return None if self.risk_limit is None else self.risk <= self.risk_limit

    def verdict(self) -> str:
        """' (confirmed at 0.05)', ' (not confirmed at 0.05)', or '' without a limit."""
        if self.risk_limit is None:
            return ""
        return f" ({'confirmed' if self.confirmed else 'not confirmed'} at {self.risk_limit:g})"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["confirmed"] = self.confirmed
        return d
