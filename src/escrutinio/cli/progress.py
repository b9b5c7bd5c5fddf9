"""Progress bars for long commands: Rich on a terminal, nothing when output is piped.

Usage from any command::

    from escrutinio.cli.progress import progress

    with progress("forensics", total=len(tests)) as step:
        for t in tests:
            ...
            step()              # or step(advance=1, label="benford")

    with progress("reading") as step:   # total unknown: a spinner with a count
        app.read(paths, progress=step)  # step(path) names the file being read

``progress`` yields a callable; on a non-terminal (pipes, tests, CI) it does nothing, so
piped JSON and CSV stay clean. Bars go to stderr. Long commands (``LONG_COMMANDS`` in
``escrutinio.cli``) also show a spinner with the elapsed time (:func:`activity`) when
both stdout and stderr are a terminal; a bar replaces it while it runs.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator


def enabled(stream=None) -> bool:
    stream = stream or sys.stderr
    if os.environ.get("ESCRUTINIO_PROGRESS") == "0":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _noop(*_args, **_kwargs) -> None:
    return None


def _stdout_is_terminal() -> bool:
    try:
        return bool(sys.stdout.isatty())
    except (AttributeError, ValueError):
        return False


# The command-level spinner (see ``activity``), paused while a bar of ``progress`` runs:
# Rich allows one live display at a time.
_ACTIVE: list = []


@contextmanager
def activity(label: str, stream=None) -> Iterator[None]:
    """A spinner with the elapsed time while a long command works, when both its output
    and stderr are a terminal (nothing at all when either is piped). Commands registered
    as long in ``escrutinio.cli`` get it without asking; bars from :func:`progress`
    replace it while they run."""
    if not (enabled(stream) and _stdout_is_terminal()):
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=stream or sys.stderr)
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                   transient=True)
    bar.add_task(label, total=None)
    bar.start()
    _ACTIVE.append(bar)
    try:
        yield
    finally:
        _ACTIVE.remove(bar)
        bar.stop()


@contextmanager
def progress(label: str, total: int | None = None, stream=None) -> Iterator[Callable[..., None]]:
    """A progress bar labelled ``label`` with ``total`` steps (None: unknown)."""
    if not enabled(stream):
        yield _noop
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=stream or sys.stderr)
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    columns += [TimeElapsedColumn()]
    paused = list(_ACTIVE)
    for spinner in paused:
        spinner.stop()
    redirect = _stdout_is_terminal()  # piped output must never be captured into the bar's stream
    try:
        with Progress(*columns, console=console, transient=True, redirect_stdout=redirect, redirect_stderr=False) as bar:
            task = bar.add_task(label, total=total)

            def step(detail=None, advance: int = 1, label_text: str | None = None) -> None:
                desc = label_text or (f"{label} {os.path.basename(str(detail))[:50]}" if detail else label)
                bar.update(task, advance=advance, description=desc)

            yield step
    finally:
        for spinner in paused:
            spinner.start()
