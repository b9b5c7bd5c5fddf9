"""CLI commands for the forensics capability."""
from escrutinio.cli import main  # noqa: F401
