"""Write an output file whole or not at all.

Shared by every command that writes a file (``report -o``, ``check -o``, exports): the
target's folder must exist and the target must not be a directory; the content goes to a
temporary file in the same folder that is renamed into place, and is removed if anything
fails, so that no ``.tmp`` file and no half-written output is ever left behind.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from escrutinio.errors import UsageError


def check_target(path: str | Path) -> Path:
    """Refuse an output path that cannot be written, before any work is done."""
    target = Path(path)
    if str(path) == "" or target.name == "":
        raise UsageError(f"output path {str(path)!r} names no file")
    if target.is_dir():
        raise UsageError(f"output {target} is a directory: give a file name, e.g. {target / 'report.html'}")
    folder = target.parent
    if not folder.exists():
        raise UsageError(f"cannot write {target}: folder {folder} does not exist (create it first)")
    if not folder.is_dir():
        raise UsageError(f"cannot write {target}: {folder} is not a folder")
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``content`` to ``path`` atomically (temporary file + rename)."""
    target = check_target(path)
    data = content.encode(encoding) if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # mkstemp makes the file 0600; a report or export is meant to be read like any
        # file the user writes, so it gets the mode the umask would give.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise
    return target
