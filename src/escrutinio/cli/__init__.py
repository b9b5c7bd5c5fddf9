"""Command-line interface. Each capability registers its commands from its own module
(``cli/<capability>.py``) so that capabilities stay independent."""
from __future__ import annotations

import sys

import click

from escrutinio import __version__
from escrutinio.errors import EscrutinioError


class _Group(click.Group):
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


def _register() -> None:
    from escrutinio.cli import results, seats, dynamics, forensics, audit  # noqa: F401
    from escrutinio.cli import server  # noqa: F401
    from escrutinio.cli import pvt  # noqa: F401
    from escrutinio.cli import publication  # noqa: F401


_register()
for _name in LONG_COMMANDS:
    if _name in main.commands:
        _with_activity(main.commands[_name])
