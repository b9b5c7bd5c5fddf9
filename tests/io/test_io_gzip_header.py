"""Picking a mapping inflates only the start of a gzipped CSV (issue 28: speed); the
header is the same, and an odd stream is still read whole and judged there."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from escrutinio.errors import InputError
from escrutinio.io.source import HEADER_BYTES, _gzip_text_head, read_header

ROOT = Path(__file__).resolve().parents[2]
FINAL = ROOT / "examples/bolivia/2019/computo_2019-10-25.csv.gz"


def test_the_head_is_the_start_of_the_whole_file():
    data, inner = _gzip_text_head(str(FINAL), None, "auto")
    assert inner == "computo_2019-10-25.csv" and len(data) == HEADER_BYTES
    assert gzip.decompress(FINAL.read_bytes()).startswith(data)
    assert read_header(str(FINAL))[:3] == ["Número Mesa", "País", "Departamento"]


def test_small_truncated_or_other_files_are_read_whole(tmp_path):
    small = tmp_path / "small.csv.gz"
    small.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert _gzip_text_head(str(small), None, "auto") is None and read_header(str(small)) == ["a", "b"]
    cut = tmp_path / "cut.csv.gz"
    rows = "".join(f"{i},{i * 7919 % 100003}\n" for i in range(50_000)).encode()
    cut.write_bytes(gzip.compress(b"a,b\n" + rows)[:200])  # 200 bytes inflate to far less than 64 KiB
    assert _gzip_text_head(str(cut), None, "auto") is None
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_header(str(cut))
    assert _gzip_text_head(str(tmp_path / "none.csv.gz"), None, "auto") is None
