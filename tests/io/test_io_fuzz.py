"""No bad bytes give a traceback: random files, and good files cut or corrupted at random
places, are either read or refused with an EscrutinioError naming the file."""
import gzip
import io
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from escrutinio.errors import EscrutinioError
from escrutinio.io import read_snapshots

DEMO = Path(__file__).resolve().parents[2] / "examples" / "forensics_demo"
MAPPING = str(DEMO / "freedonia.toml")
GOOD = b"\n".join((DEMO / "freedonia_2025.csv").read_bytes().split(b"\n")[:40]) + b"\n"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read(tmp_path, name: str, data: bytes, mapping=MAPPING) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    try:
        read_snapshots(p, mapping=mapping)
    except EscrutinioError as exc:
        assert str(p) in str(exc)


@SETTINGS
@given(data=st.binary(max_size=3000), name=st.sampled_from(["x.csv", "x.xlsx", "x.csv.gz", "x.zip", "x.parquet"]))
def test_random_bytes(tmp_path, data, name):
    _read(tmp_path, name, data)
    _read(tmp_path, name, data, mapping=None)


@SETTINGS
@given(cut=st.integers(0, len(GOOD)), flips=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)),
                                                     max_size=4))
def test_cut_and_corrupted_csv(tmp_path, cut, flips):
    data = bytearray(GOOD[:cut])
    for at, value in flips:
        if at < len(data):
            data[at] = value
    _read(tmp_path, "c.csv", bytes(data))
    _read(tmp_path, "c.csv.gz", gzip.compress(bytes(data))[: max(1, cut // 3)])


@SETTINGS
@given(cut=st.integers(0, 4000))
def test_cut_zip(tmp_path, cut):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.csv", GOOD)
    _read(tmp_path, "a.zip", buf.getvalue()[:cut])
