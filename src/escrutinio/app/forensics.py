"""The forensics battery's use case, once, for the command line (`escrutinio forensics`)
and the Python API (``escrutinio.forensics``): read the election, take the latest count
of one contest, run the battery under a tool's definitions, check it against placebo
elections, and say when the placebo took most of the time. Nothing here prints; progress
is reported through a callback the caller passes (the command line draws a bar with it).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from escrutinio.errors import UsageError
from escrutinio.model import Election


def station_data(data, contest: str | None = None, mapping=None, combine: bool = False):
    """Station arrays of one contest from the given files (or an :class:`Election`): one
    file, one election's dated exports (the latest is used), or with ``combine`` the parts
    of one count. Any other set of files is refused with the flag to use (never reduced
    silently to one file)."""
    from escrutinio.app.results import pick_contest, read, series_to_tabulate
    from escrutinio.forensics.core import from_snapshot

    if isinstance(data, Election):
        election = data
    else:
        election = read([data] if isinstance(data, (str, Path)) else list(data), mapping=mapping, combine=combine)
    name = pick_contest(election, contest)
    return from_snapshot(series_to_tabulate(election, name)[-1])


def definitions_of(definitions="escrutinio", share_of: str | None = None, min_registered: int | None = None,
                   max_turnout: float | None = None, max_share: float | None = None):
    """A published tool's definitions (a name, a :class:`Definitions`, or None for
    escrutinio's own) with the leader share's denominator and the table filter's bounds
    overridden where given (``--leader-share``, ``--min-registered``, ``--max-turnout``,
    ``--max-share``)."""
    from escrutinio.forensics.core import DEFINITIONS, StationFilter

    if definitions is None:
        definitions = "escrutinio"
    if isinstance(definitions, str):
        if definitions not in DEFINITIONS:
            raise UsageError(f"definitions {definitions!r}: use one of {', '.join(DEFINITIONS)}")
        defs = DEFINITIONS[definitions]
    else:
        defs = definitions
    if share_of is not None:
        defs = replace(defs, share_of=share_of)
    base = defs.station_filter
    filt = StationFilter(base.min_registered if min_registered is None else min_registered,
                         base.max_turnout if max_turnout is None else max_turnout,
                         base.max_share if max_share is None else max_share)
    if not (0 < filt.max_turnout <= 1 and 0 < filt.max_share <= 1):
        raise UsageError("--max-turnout and --max-share must be in (0, 1]")
    return replace(defs, station_filter=filt)


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def placebo_hint(placebo_s: float, whole_s: float, sims: int) -> str | None:
    """One line when the simulated placebo took most of the run, naming the option that cuts it."""
    if not sims or whole_s < 10 or placebo_s < 0.5 * whole_s:
        return None
    return (f"hint: the {sims} placebo copies took {duration(placebo_s)} of {duration(whole_s)}; "
            f"--placebo-sims 5 takes about a quarter of that and --placebo-sims 0 none (no false-positive check).")


def progress_steps(placebo: Sequence = (), placebo_sims: int = 20) -> int:
    """How many steps :func:`forensics` reports: one per stage and per placebo copy."""
    return 2 + len(placebo) + placebo_sims


@dataclass
class Forensics:
    """The battery (``.battery``, a :class:`~escrutinio.forensics.battery.BatteryResult`,
    whose fields are reachable on this object too) and the placebo hint, if any."""
    battery: object
    hint: str | None = None

    def to_dict(self) -> dict:
        """`escrutinio forensics --format json`: the battery, and the hint riding in it so
        that stdout and stderr stay machine-readable."""
        return {**self.battery.to_dict(), "hint": self.hint}

    def summary(self) -> str:
        """`escrutinio forensics`' text."""
        text = self.battery.summary()
        return text + "\n\n" + self.hint if self.hint else text

    def html(self) -> str:
        """The HTML report (`escrutinio forensics --report`)."""
        from escrutinio.forensics.report import html_page

        return html_page(self.battery)

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "battery":
            raise AttributeError(name)
        return getattr(self.battery, name)


def _no_progress(*_args, **_kwargs) -> None:
    return None


def forensics(data, contest: str | None = None, mapping=None, combine: bool = False, by: str | None = None,
              definitions="escrutinio", share_of: str | None = None, placebo: Sequence = (),
              placebo_mapping=None, placebo_sims: int = 20, seed: int = 0, draws: int = 1000,
              min_registered: int | None = None, max_turnout: float | None = None, max_share: float | None = None,
              min_tables: int = 200, klimek: bool = True, report: str | None = None,
              progress: Callable[..., None] | None = None, **battery_options) -> Forensics:
    """The forensics battery on the latest count of one contest (`escrutinio forensics`):
    tests with their nulls, p-values and caveats, adjusted for multiple testing, with tests
    that fire on a reference election (``placebo``: its files) or on ``placebo_sims`` clean
    copies of this one marked uninformative. An anomaly is never evidence of fraud by itself.

    ``data``: paths or an :class:`Election`. ``report``: also write the HTML report there
    (the path is checked before anything is read). ``progress(advance=1, label_text=None)``
    is called once per stage and per placebo copy (:func:`progress_steps` in all).
    ``battery_options`` go to :func:`~escrutinio.forensics.battery.run_battery`."""
    from escrutinio.app.results import check_output, write_atomic
    from escrutinio.forensics._threads import one_blas_thread
    from escrutinio.forensics.battery import NullCache, run_battery
    from escrutinio.forensics.placebo import mark_uninformative, placebo_reference, placebo_simulated

    defs = definitions_of(definitions, share_of, min_registered, max_turnout, max_share)
    if report:
        check_output(report)
    step = progress or _no_progress
    if isinstance(placebo, (str, Path)):
        placebo = [placebo]
    t_start = time.perf_counter()
    data = station_data(data, contest, mapping, combine).with_share_of(defs.share_of)
    step(label_text="forensics: battery" + (f" and {by} areas" if by else ""))
    cache = NullCache(p05_rounding=defs.p05_rounding).prepare(data)
    placebo_s = [0.0]

    def simulated():
        import threading

        t_placebo = time.perf_counter()
        done, lock = [0], threading.Lock()   # copies finish in worker threads

        def copy_done(advance=1):
            # the label says how long the rest should take, from the time the first copies
            # took (a placebo copy costs about one battery)
            with lock:
                done[0] += advance
                spent = time.perf_counter() - t_placebo
                left = spent / done[0] * (placebo_sims - done[0])
                step(advance=advance, label_text=f"forensics: placebo copy {done[0]}/{placebo_sims}, "
                                                 f"about {duration(left)} left")

        try:
            return placebo_simulated(data, n_sims=placebo_sims, seed=seed + 2, cache=cache, definitions=defs,
                                     progress=copy_done)
        finally:
            placebo_s[0] = time.perf_counter() - t_placebo

    # the simulated copies start as soon as the national tests are done and run in threads
    # beside the areas, the Klimek fit and the outliers (each copy has its own seed and the
    # shared pmfs do not depend on who computed them first: the same answers as one after
    # the other, on two cores in less time)
    pool, pending = None, []

    def start_placebo():
        nonlocal pool
        if placebo_sims:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(1)
            pending.append(pool.submit(simulated))

    try:
        with one_blas_thread():
            result = run_battery(data, by=by, seed=seed, draws=draws, klimek=klimek, cache=cache, definitions=defs,
                                 min_area_units=min_tables, on_national=start_placebo, **battery_options)
            step(label_text="forensics: placebo")
            if placebo:
                ref = station_data(placebo, contest, placebo_mapping).with_share_of(defs.share_of)
                mark_uninformative(result, placebo_reference(ref, seed=seed + 1, definitions=defs), "reference")
                step(advance=len(placebo))
            if pending:
                mark_uninformative(result, pending[0].result(), "simulated")
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    result.timings["placebo_s"] = placebo_s[0]
    result.timings["whole_s"] = time.perf_counter() - t_start
    out = Forensics(result, placebo_hint(result.timings["placebo_s"], result.timings["whole_s"], placebo_sims))
    if report:
        write_atomic(report, out.html())
    return out
