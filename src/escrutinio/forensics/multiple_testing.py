"""Multiple-testing adjustments across the battery.

* Holm (1979), "A simple sequentially rejective multiple test procedure", Scand. J.
  Statist. 6: step-down Bonferroni; controls the family-wise error rate under any
  dependence.
* Benjamini & Hochberg (1995), "Controlling the false discovery rate", JRSS B 57: step-up;
  controls the false discovery rate under independence or positive dependence (PRDS).

Both return adjusted p-values in the input order; ``None``/NaN entries stay NaN and are
not counted in the family.
"""
from __future__ import annotations

import numpy as np


def _prep(p):
    arr = np.array([np.nan if v is None else v for v in p], float)
    ok = np.isfinite(arr)
    return arr, ok


def _adjust(p, step) -> np.ndarray:
    """Apply ``step(sorted_p, m)`` to the finite p-values in ascending order, cap at 1,
    and put the results back in input order (missing p-values stay NaN)."""
    arr, ok = _prep(p)
    out = np.full(arr.shape, np.nan)
    x = arr[ok]
    m = len(x)
    if m == 0:
        return out
    order = np.argsort(x, kind="mergesort")
    res = np.empty(m)
    res[order] = np.minimum(step(x[order], m), 1.0)
    out[ok] = res
    return out


def holm(p) -> np.ndarray:
    """Holm step-down adjusted p-values: max over j<=i of (m-j+1) p_(j), capped at 1."""
    return _adjust(p, lambda s, m: np.maximum.accumulate((m - np.arange(m)) * s))


def benjamini_hochberg(p) -> np.ndarray:
    """BH step-up adjusted p-values: min over j>=i of m p_(j) / j, capped at 1."""
    return _adjust(p, lambda s, m: np.minimum.accumulate((s * m / np.arange(1, m + 1))[::-1])[::-1])
