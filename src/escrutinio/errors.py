"""Errors that name the file, row and column, so that a user can go and look."""
from __future__ import annotations


class EscrutinioError(Exception):
    """Base class for errors shown to users (the CLI prints them and exits non-zero)."""

    exit_code = 2


class InputError(EscrutinioError):
    """A source file could not be read as published.

    ``row`` is the 1-based line (CSV, header = line 1) or sheet row; ``column`` the
    source's own column name.
    """

    def __init__(self, file: str, message: str, row: int | None = None, column: str | None = None):
        self.file, self.row, self.column, self.detail = str(file), row, column, message
        where = self.file
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


class MappingError(EscrutinioError):
    """A mapping file is malformed or does not fit the source."""


class UsageError(EscrutinioError):
    """Arguments that do not fit together."""
