"""CLI commands for the dynamics capability."""
from escrutinio.cli import main  # noqa: F401
