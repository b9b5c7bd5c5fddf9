"""The public status of a risk-limiting audit, read from its report.

An audit runs from the command line (``escrutinio audit plan / sample / record``), where
its state lives in a workspace. What an observer network publishes is the report
(``escrutinio audit report --format json``): inputs' hashes, seed, every draw, and the
status. This module checks that a document is such a report and says what a status page
shows of it. It recomputes nothing: the report carries everything needed to recompute the
risk (``escrutinio audit risk --method macro``), and a server that published a different one would be
caught by anyone who does.
"""
from __future__ import annotations

from numbers import Real

from escrutinio.errors import UsageError

CAVEAT = ("A risk-limiting audit bounds the chance of confirming a wrong outcome. Discrepancies are differences "
          "between paper and published numbers; they are not evidence of fraud by themselves.")
DECISIONS = ("stop", "count", "escalate", "full hand count")

_TOP = {"name": str, "contest": str, "method": str, "risk_limit": Real, "seed": str, "draws": list, "status": dict}
_STATUS = {"risk": Real, "risk_limit": Real, "draws": int, "draws_recorded": int, "sampled_units": int,
           "discrepancies": int, "decision": str, "note": str, "assertions": list}


def _check(doc: dict, fields: dict, where: str) -> None:
    for key, kind in fields.items():
        if key not in doc:
            raise UsageError(f"not an audit report (escrutinio audit report --format json): {where}{key!r} is missing")
        value = doc[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            raise UsageError(f"audit report: {where}{key!r} should be {getattr(kind, '__name__', kind)}, "
                             f"not {type(value).__name__}")


def summarise(report: dict) -> dict:
    """What a status page shows of an audit report; a UsageError names what is missing
    or wrong in a document that is not one."""
    if not isinstance(report, dict):
        raise UsageError("not an audit report: a JSON object is expected")
    _check(report, _TOP, "")
    st = report["status"]
    _check(st, _STATUS, "status.")
    if st["decision"] not in DECISIONS:
        raise UsageError(f"audit report: status.decision {st['decision']!r} is not one of {', '.join(DECISIONS)}")
    if not 0 < report["risk_limit"] < 1 or report["risk_limit"] != st["risk_limit"]:
        raise UsageError("audit report: risk_limit must be in (0, 1) and the same in the report and its status")
    if not 0 <= st["risk"] <= 1:
        raise UsageError(f"audit report: status.risk {st['risk']} is not a probability")
    if not 0 <= st["draws_recorded"] <= st["draws"] or st["draws"] != len(report["draws"]):
        raise UsageError("audit report: the draws counted, the draws made and the list of draws disagree")
    return {
        "name": report["name"], "election": report.get("election"), "contest": report["contest"],
        "method": report["method"], "risk_limit": float(report["risk_limit"]), "seed": report["seed"],
        "sampled": st["draws"], "audited": st["draws_recorded"], "tables": st["sampled_units"],
        "discrepancies": st["discrepancies"], "p_value": float(st["risk"]), "decision": st["decision"],
        "confirmed": st["decision"] == "stop", "next_round": st.get("next_round"), "note": st["note"],
        "caveat": report.get("caveat") or CAVEAT,
    }
