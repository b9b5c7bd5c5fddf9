"""Issue 23: an official upload is decompressed under limits (size and ratio), streamed
in bounded memory; an interrupted upload leaves nothing behind after a restart."""
import gzip
import os
import time
import tracemalloc
import zipfile
import zlib

import pytest

from escrutinio.server.uploads import DecompressionLimit, check_decompression, clean_interrupted

GIB = 1 << 30


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    member = gzip.compress(b"\x00" * (1 << 20), compresslevel=9)
    gz = folder / "computo.csv.gz"
    gz.write_bytes(member * 1024)  # 1,024 gzip members of 1 MiB each: 1 GiB
    zp = folder / "computo.zip"
    with zipfile.ZipFile(zp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("computo.csv", "w", force_zip64=True) as out:
            block = b"\x00" * (1 << 20)
            for _ in range(1024):
                out.write(block)
    assert zp.stat().st_size < 8 << 20 and gz.stat().st_size < 2 << 20
    return {"gz": gz, "zip": zp}


@pytest.mark.parametrize("kind", ["gz", "zip"])
def test_a_decompression_bomb_is_refused_in_bounded_memory(bombs, kind):
    tracemalloc.start()
    try:
        with pytest.raises(DecompressionLimit, match="refused"):
            check_decompression(bombs[kind], bombs[kind].name, 512 << 20, 100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak  # a few pieces of 1 MiB, not the member


def test_a_plausible_file_passes(tmp_path):
    data = b"".join(f"{i},{i * 7 % 250},{i * 3 % 250}\n".encode() for i in range(200_000))
    p = tmp_path / "c.csv.gz"
    p.write_bytes(gzip.compress(data))
    assert check_decompression(p, p.name, 512 << 20, 100) == len(data)
    assert check_decompression(tmp_path / "c.csv.gz", "x", len(data), 100) == len(data)
    with pytest.raises(DecompressionLimit, match="more than"):
        check_decompression(p, p.name, len(data) - 1, 100)


@pytest.mark.parametrize("kind", ["gz", "zip"])
def test_the_server_answers_422_to_a_bomb(server_client, bombs, kind):
    sc = server_client
    with open(bombs[kind], "rb") as f:
        r = sc.client.post("/api/v1/official", files={"file": (bombs[kind].name, f)}, headers=sc.headers("admin"))
    assert r.status_code == 422 and "refused" in r.json()["error"], r.text[:300]
    assert sc.client.get("/api/v1/snapshots").json() == []
    assert not list(sc.settings.data_dir.glob("upload-*"))


def test_interrupted_uploads_are_cleaned_up(tmp_path):
    data = tmp_path / "data"
    stale = data / "upload-abc123"
    stale.mkdir(parents=True)
    (stale / "computo.csv").write_bytes(b"x" * 1000)
    fresh = data / "upload-new"
    fresh.mkdir()
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert clean_interrupted(data, older_than=3600) == [stale]
    assert not stale.exists() and fresh.exists()
    assert (data / "upload-new") in clean_interrupted(data)


def test_an_official_file_with_an_impossible_count_is_refused(server_client, tmp_path):
    from server_data import COMPUTO

    sc = server_client
    lines = gzip.open(COMPUTO, "rt", encoding="utf-8-sig").read().splitlines()[:30]
    cells = lines[5].split(",")
    cells[12] = str(2**62)  # CC
    lines[5] = ",".join(cells)
    p = tmp_path / "computo_2019-10-25.csv.gz"
    p.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    with open(p, "rb") as f:
        r = sc.client.post("/api/v1/official", files={"file": (p.name, f)}, headers=sc.headers("admin"))
    assert r.status_code == 422, r.text[:300]
    assert "column 'CC'" in r.json()["error"] and "row 6" in r.json()["error"]
    assert sc.client.get("/api/v1/snapshots").json() == []
