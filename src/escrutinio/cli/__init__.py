"""Command-line interface. Each capability registers its commands from its own module
(``cli/<capability>.py``) so that capabilities stay independent."""
from __future__ import annotations

import gc
import sys

import click

from escrutinio import __version__
from escrutinio.errors import EscrutinioError


# Which module registers each command: running one command imports only its module (the
# others' click decorators and imports are a tenth of a second a process does not need).
# A name missing here is still found: every module is then imported.
COMMAND_MODULES = {
    **dict.fromkeys(("results", "check", "report", "load", "mappings"), "results"),
    "seats": "seats",
    **dict.fromkeys(("timeline", "diff", "project", "compare", "counting-order", "backtest", "calibrate",
                     "dynamics-report"), "dynamics"),
    "forensics": "forensics",
    "audit": "audit",
    **dict.fromkeys(("server", "serve"), "server"),
    "pvt": "pvt",
    **dict.fromkeys(("verify-log", "export"), "publication"),
}
MODULES = tuple(dict.fromkeys(COMMAND_MODULES.values()))


class _Commands(dict):
    """``main.commands``, filled on demand: a lookup imports the command's module, a
    listing (``--help``, iteration) imports them all."""

    def _one(self, name) -> None:
        module = COMMAND_MODULES.get(name)
        if module is None:
            if not dict.__contains__(self, name):
                _load(MODULES)
        elif module not in _loaded:  # also when another module imported it first: the spinner is added here
            _load((module,))

    def __getitem__(self, name):
        self._one(name)
        return dict.__getitem__(self, name)

    def __contains__(self, name) -> bool:
        self._one(name)
        return dict.__contains__(self, name)

    def get(self, name, default=None):
        self._one(name)
        return dict.get(self, name, default)

    def __iter__(self):
        _load(MODULES)
        return dict.__iter__(self)

    def __len__(self) -> int:
        _load(MODULES)
        return dict.__len__(self)

    def keys(self):
        _load(MODULES)
        return dict.keys(self)

    def values(self):
        _load(MODULES)
        return dict.values(self)

    def items(self):
        _load(MODULES)
        return dict.items(self)


# The console script sets this: the CLI then runs as a whole process of its own (see
# _settle_imports). A test or notebook calling ``main`` in-process leaves it unset.
_WHOLE_PROCESS = False
_settled = False


def _settle_imports() -> None:
    """Import polars with the cyclic garbage collector paused, then freeze what exists.

    Every command that reads data imports polars (about 30,000 long-lived objects, none of
    them garbage). Paused, its import runs no collection; frozen, those objects are left
    out of every later collection, including the full one at interpreter exit. On
    ``results`` of the 2019 count this is 81 million of 1,233 million instructions
    (benchmarks/bench_startup.py). Only in a whole process: freezing inside a test run would
    also freeze that run's pending garbage, which would then never be collected.
    """
    global _settled
    if not _WHOLE_PROCESS or _settled:
        return
    _settled = True
    gc.disable()
    try:
        import polars  # noqa: F401  (the import itself is the point)
    finally:
        gc.freeze()
        gc.enable()


def run() -> None:
    """The ``escrutinio`` console script and ``python -m escrutinio``."""
    global _WHOLE_PROCESS
    _WHOLE_PROCESS = True
    main()


class _Command(click.Command):
    def invoke(self, ctx):
        # after the arguments parsed (``--help`` and usage errors never get here)
        _settle_imports()
        return super().invoke(ctx)


class _Group(click.Group):
    command_class = _Command
    group_class = type  # sub-groups (server, audit, pvt) are _Groups with _Commands too

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EscrutinioError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="escrutinio")
def main() -> None:
    """Count, check and explain election results from tally sheets (actas)."""


# Commands that can take more than a few seconds: a spinner with the elapsed time on a
# terminal (escrutinio.cli.progress.activity); nothing when output is piped.
LONG_COMMANDS = ("forensics", "project", "backtest", "calibrate", "dynamics-report", "timeline", "counting-order",
                 "compare", "report", "check", "pvt")


def _with_activity(command: click.Command) -> None:
    for sub in getattr(command, "commands", {}).values():
        _with_activity(sub)
    callback = command.callback
    if callback is None or getattr(callback, "_escrutinio_activity", False) or isinstance(command, click.Group):
        return

    def run(*args, **kwargs):
        from escrutinio.cli.progress import activity

        with activity(f"escrutinio {command.name}"):
            return callback(*args, **kwargs)

    run._escrutinio_activity = True
    run.__doc__, run.__name__ = callback.__doc__, callback.__name__
    command.callback = run


_loaded: set[str] = set()


def _load(modules) -> None:
    """Import command modules (each registers its commands on ``main``), then give the long
    commands among them their spinner."""
    import importlib

    for module in modules:
        if module in _loaded:
            continue
        _loaded.add(module)
        importlib.import_module(f"escrutinio.cli.{module}")
    for name in LONG_COMMANDS:
        if dict.__contains__(main.commands, name):
            _with_activity(dict.__getitem__(main.commands, name))


main.commands = _Commands(main.commands)
