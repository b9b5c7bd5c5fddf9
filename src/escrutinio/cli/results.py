"""CLI commands for the results capability."""
from escrutinio.cli import main  # noqa: F401
