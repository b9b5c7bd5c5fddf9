"""CLI commands for the audit capability."""
from escrutinio.cli import main  # noqa: F401
