"""Helpers shared by the multilevel model's parts: small constants, dense codes, correlated normals."""
from __future__ import annotations

import numpy as np

EPS = 1e-12


def _codes(keys: list[np.ndarray]) -> np.ndarray:
    """Dense integer codes of the row tuples of several integer arrays."""
    if not keys:
        return np.zeros(0, np.int64)
    stack = np.stack(keys, 1)
    _, inv = np.unique(stack, axis=0, return_inverse=True)
    return inv.ravel().astype(np.int64)


def _psd_corr(c: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh((c + c.T) / 2)
    c = (V * np.clip(w, 1e-6, None)) @ V.T
    d = np.sqrt(np.diag(c))
    return c / d[:, None] / d[None, :]


def _corr_normal(rng: np.random.Generator, shape: tuple, corr: np.ndarray) -> np.ndarray:
    L = np.linalg.cholesky(corr)
    # einsum, not BLAS: small inner dimension, and BLAS threads oversubscribe a busy machine
    return np.einsum("...c,dc->...d", rng.standard_normal(shape), L)
# bootstrap replicates computed at once (model._slopes, levels._completion_slope): bounds
# their temporaries whatever the number of replicates (as many as the simulations, or 8x)
BOOT_CHUNK = 8192
