"""Reading a TOML document (a mapping or a law file) with a one-line error naming the
file. Below both :mod:`escrutinio.io` and :mod:`escrutinio.law`, which both read TOML, so
that neither imports the other for it."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from escrutinio.errors import MappingError


def read_toml(path: str | Path, what: str = "mapping") -> dict[str, Any]:
    """A TOML document (a mapping or a law file), or a MappingError naming the file."""
    if Path(path).is_dir():
        raise MappingError(f"{what} file {path} is a directory")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise MappingError(f"{what} file not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise MappingError(f"{path}: a {what} file must be UTF-8 text ({exc.reason})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from exc
