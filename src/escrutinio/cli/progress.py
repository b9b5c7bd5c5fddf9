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
piped JSON and CSV stay clean. Bars go to stderr.
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
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)

        def step(detail=None, advance: int = 1, label_text: str | None = None) -> None:
            desc = label_text or (f"{label} {os.path.basename(str(detail))[:50]}" if detail else label)
            bar.update(task, advance=advance, description=desc)

        yield step
