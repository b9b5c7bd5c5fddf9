"""Uploaded files: decompression limits and the clean-up of interrupted uploads.

An official file may be gzip or zip (an XLSX workbook is a zip too). Before the reader
decompresses it in memory, :func:`check_decompression` streams through it in 1 MiB
pieces, counting what it expands to, and refuses it once it passes the size limit, or
the ratio limit past a floor (a 1 MB archive that expands to 1 GiB is a bomb, not a
count): memory stays at a few MiB whatever the archive holds.
"""
from __future__ import annotations

import logging
import shutil
import time
import zipfile
import zlib
from pathlib import Path

log = logging.getLogger("escrutinio.server")
CHUNK = 1 << 20
#: the ratio limit applies past this many decompressed bytes (small files compress well)
RATIO_FLOOR = 16 * 1024 * 1024
UPLOAD_PREFIX = "upload-"


class DecompressionLimit(ValueError):
    pass


class _Counter:
    def __init__(self, name: str, compressed: int, max_bytes: int, max_ratio: int):
        self.name, self.compressed, self.max_bytes, self.max_ratio = name, max(compressed, 1), max_bytes, max_ratio
        self.total = 0

    def add(self, n: int) -> None:
        self.total += n
        if self.total > self.max_bytes:
            raise DecompressionLimit(f"{self.name}: expands to more than {self.max_bytes:,} bytes; refused")
        if self.total > RATIO_FLOOR and self.total > self.max_ratio * self.compressed:
            raise DecompressionLimit(f"{self.name}: expands more than {self.max_ratio} times "
                                     f"({self.compressed:,} bytes to over {self.total:,}); refused as a decompression bomb")


def _gzip(path: Path, counter: _Counter) -> None:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return
            data = chunk
            while data:
                out = d.decompress(data, CHUNK)
                counter.add(len(out))
                if d.eof:  # a multi-member gzip: the next member starts in unused_data
                    data = d.unused_data
                    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    if not data.startswith(b"\x1f\x8b"):
                        data = b""
                else:
                    data = d.unconsumed_tail


def _zip(path: Path, counter: _Counter) -> None:
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        declared = sum(i.file_size for i in infos)
        if declared > counter.max_bytes:
            raise DecompressionLimit(f"{counter.name}: its members declare {declared:,} bytes, more than "
                                     f"{counter.max_bytes:,}; refused")
        for info in infos:
            if info.is_dir():
                continue
            with zf.open(info) as member:  # declared sizes may lie: count what comes out
                while chunk := member.read(CHUNK):
                    counter.add(len(chunk))


def check_decompression(path: Path, name: str, max_bytes: int, max_ratio: int) -> int:
    """Stream through a gzip or zip file; returns its decompressed size, or raises
    :class:`DecompressionLimit`. Other files are left to the reader (0)."""
    with open(path, "rb") as f:
        head = f.read(4)
    counter = _Counter(name, Path(path).stat().st_size, max_bytes, max_ratio)
    try:
        if head[:2] == b"\x1f\x8b":
            _gzip(Path(path), counter)
        elif head == b"PK\x03\x04":
            _zip(Path(path), counter)
        else:
            return 0
    except DecompressionLimit:
        raise
    except (zlib.error, zipfile.BadZipFile, EOFError, OSError, NotImplementedError):
        return counter.total  # corrupt: the reader says so, with its own words
    return counter.total


def clean_interrupted(data_dir: Path, older_than: float = 0.0) -> list[Path]:
    """Remove upload work folders left by a crash (``upload-*`` in the data folder)
    whose last change is more than ``older_than`` seconds ago; returns them."""
    removed = []
    folder = Path(data_dir)
    if not folder.is_dir():
        return removed
    now = time.time()
    for p in folder.glob(UPLOAD_PREFIX + "*"):
        try:
            if p.is_dir() and now - p.stat().st_mtime >= older_than:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
        except OSError:
            continue
    if removed:
        log.warning("removed %d interrupted upload(s) from %s", len(removed), folder)
    return removed


def check_counts(snaps, name: str, limit: int) -> None:
    """Refuse an official file with a count over ``limit`` (no acta carries 2^31
    votes): the server's totals are int64, and such a number would wrap them. Names the
    file, row and column."""
    import polars as pl

    from escrutinio.model import TOTAL_COLUMNS

    for snap in snaps:
        cols = [c for c in (*snap.choices, *TOTAL_COLUMNS) if c in snap.frame.columns
                and snap.frame.schema[c].is_integer()]
        if not cols:
            continue
        bad = snap.frame.filter(pl.any_horizontal([pl.col(c) > limit for c in cols]))
        if bad.height:
            row = bad.row(0, named=True)
            col = next(c for c in cols if row[c] is not None and row[c] > limit)
            where = f"row {row['source_row']}" if row.get("source_row") is not None else f"unit {row.get('unit')}"
            raise DecompressionLimit(f"{name}, {where}, column {col!r}: {row[col]} is more than any acta can count "
                                     f"(at most {limit:,}); nothing was loaded")
