"""One BLAS thread while the battery runs.

The battery's matrix products are small (digit classes x pairs, three counts x draws), and
the battery brings its own threads (placebo copies, the Klimek bootstrap) that already
fill the cores. OpenBLAS's threads beside them mostly spin-wait: on Russia 2021 with
``--by region`` and no placebo, 9.6-13 s of CPU with OpenBLAS's default threads, 7.5 s
with one (the areas alone 5.8 s against 2.3 s). Limited through OpenBLAS's own
``openblas_set_num_threads`` (the libraries numpy and scipy load, found in
/proc/self/maps), restored afterwards; where that is not available nothing changes.
"""
from __future__ import annotations

import contextlib
import ctypes

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
            "openblas_set_num_threads")


def _openblas() -> list:
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()
                            and line.split()[-1].startswith("/")})
    except OSError:
        return []
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            if hasattr(lib, name):
                found.append((getattr(lib, name), getattr(lib, name.replace("_set_", "_get_"), None)))
                break
    return found


@contextlib.contextmanager
def one_blas_thread():
    """Run the block with OpenBLAS limited to one thread (restored on exit)."""
    libs = _openblas()
    before = []
    for set_threads, get_threads in libs:
        try:
            before.append(get_threads() if get_threads is not None else None)
            set_threads(1)
        except (OSError, ValueError, TypeError):
            before.append(None)
    try:
        yield
    finally:
        for (set_threads, _), n in zip(libs, before):
            if n:
                set_threads(n)
