"""escrutinio: count, check and explain election results from polling-table tally sheets.

The Python API (docs/python.md)::

    import escrutinio as es

    e = es.read("examples/bolivia/2019/computo_2019-10-25.csv.gz")
    es.check(e)                       # per-acta checks
    es.tabulate(e, level="department")  # totals, completeness, verdict under the law
    es.project(partial, roll=...)     # projection from a partial count
    es.forensics(e)                   # the forensics battery
    es.audit("results.csv", risk_limit=0.05)  # a risk-limiting audit plan
    es.pvt_design(roll, n=300, seed="...")   # and pvt_estimate, pvt_compare (docs/pvt.md)
    es.verify_log("http://...")       # and export (docs/publication.md)

Every result has ``.to_dict()``, ``.to_polars()``, ``.summary()`` and an HTML repr.
``tabulate``, ``forensics`` and ``audit`` are also the names of subpackages; they are
callable modules, so ``escrutinio.forensics(...)`` runs the battery and
``escrutinio.forensics.run_battery`` is still there. Nothing heavy is imported until used.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types

__version__ = "0.1.0"

_FUNCTIONS = ("read", "check", "tabulate", "report", "load", "bundled_mappings", "project", "forensics", "audit", "audit_sample_size", "audit_risk",
              "audit_plan", "audit_sample", "audit_import_draws", "audit_record", "audit_status", "audit_report",
              "seats", "apportion", "timeline", "diff", "compare", "counting_order", "backtest", "calibrate",
              "dynamics_report", "pvt_design", "pvt_estimate",
              "pvt_compare", "pvt_verify", "verify_log", "export")
_CALLABLE_MODULES = {f"{__name__}.{n}": n for n in ("tabulate", "forensics", "audit", "report")}

__all__ = ["__version__", *_FUNCTIONS]


class _CallableModule(types.ModuleType):
    """A module that is also the API function of the same name."""

    def __call__(self, *args, **kwargs):
        from escrutinio.app import api

        return getattr(api, _CALLABLE_MODULES[self.__name__])(*args, **kwargs)


# plain classes, not importlib.abc's: importing importlib.abc pulls in importlib.resources
# (tempfile, shutil, lzma ...), a third of `escrutinio --help`'s own start-up
class _Loader:
    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        module.__class__ = _CallableModule
        self._inner.exec_module(module)

    def __getattr__(self, name):  # resource readers and the like
        return getattr(self._inner, name)


class _Finder:
    def find_spec(self, fullname, path, target=None):
        if fullname not in _CALLABLE_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None and not isinstance(spec.loader, _Loader):
            spec.loader = _Loader(spec.loader)
        return spec


if not any(isinstance(f, _Finder) for f in sys.meta_path):
    sys.meta_path.insert(0, _Finder())


def __getattr__(name: str):
    if name in _CALLABLE_MODULES.values():
        return importlib.import_module(f"{__name__}.{name}")
    if name in _FUNCTIONS:
        from escrutinio.app import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_FUNCTIONS])
