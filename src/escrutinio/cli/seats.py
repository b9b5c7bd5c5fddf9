"""CLI commands for the seats capability."""
from escrutinio.cli import main  # noqa: F401
