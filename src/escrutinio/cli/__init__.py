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


def _register() -> None:
    from escrutinio.cli import results, seats, dynamics, forensics, audit  # noqa: F401
    from escrutinio.cli import server  # noqa: F401
    from escrutinio.cli import pvt  # noqa: F401
    from escrutinio.cli import publication  # noqa: F401


_register()
