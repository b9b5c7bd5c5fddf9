"""Photos as evidence: decoded before acceptance, served with their type and nosniff; the
same photo (even re-compressed and resized) sent for two tables is flagged on both; EXIF
time and place that disagree with election day and the table's place are flagged, never
trusted. Watchers may now submit entries. SQLite and PostgreSQL."""
from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

from escrutinio.server.testing import ServerClient

CHOICES = ["CC", "FPV", "MTS", "UCS", "MAS - IPSP", "21F", "PDC", "MNR", "PAN-BOL"]


def _acta(seed: int) -> Image.Image:
    """A drawing with an acta's structure: ruled boxes with different digits per seed."""
    rng = random.Random(seed)
    img = Image.new("RGB", (900, 1200), "white")
    d = ImageDraw.Draw(img)
    for i in range(14):
        y = 80 + i * 75
        d.rectangle([60, y, 840, y + 60], outline="black", width=3)
        for j in range(rng.randint(1, 6)):
            x = rng.randint(80, 780)
            d.rectangle([x, y + 10, x + rng.randint(15, 60), y + 50], fill=(rng.randint(0, 90),) * 3)
    d.ellipse([rng.randint(100, 600), rng.randint(100, 900), 800, 1100], outline="blue", width=8)
    return img


def _jpeg(img: Image.Image, quality: int = 90, exif=None) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def _exif(when: str, lat: tuple, lon: tuple):
    exif = Image.Exif()
    exif[0x0132] = when
    exif.get_ifd(0x8769)[0x9003] = when
    gps = exif.get_ifd(0x8825)
    gps.update({1: lat[0], 2: lat[1], 3: lon[0], 4: lon[1]})
    return exif


def _values(snap_row):
    return {**{c: int(snap_row[c]) for c in CHOICES}, **{f: int(snap_row[f]) for f in ("blank", "null", "registered", "emitted")}}


def test_photos_as_evidence(database_url, tmp_path, small_computo_rows):
    path, rows = small_computo_rows
    sc = ServerClient(database_url, tmp_path, extra={"election_day": "2019-10-20"})
    try:
        c = sc.client
        sc.load(path)
        units = sorted(rows)[:4]
        w1, w2, reader = sc.headers("watcher", "w-one"), sc.headers("watcher", "w-two"), sc.headers("reader")

        def upload(data, who=w1):
            return c.post("/api/v1/photos", headers=who, files={"file": ("acta.jpg", data, "image/jpeg")})

        # decoded, not guessed: a truncated JPEG and an HTML file with a JPEG's first bytes are refused
        original = _jpeg(_acta(1))
        assert upload(original[: len(original) // 2]).status_code == 415
        assert upload(b"\xff\xd8\xff\xe0<script>alert(1)</script>").status_code == 415

        a = upload(original).json()
        # the same acta photographed once, then re-compressed and shrunk by a phone
        smaller = _acta(1).resize((600, 800))
        b = upload(_jpeg(smaller, quality=60), w2).json()
        other = upload(_jpeg(_acta(2)), w2).json()
        assert a["sha256"] != b["sha256"] and len(a["phash"]) == 16

        got = c.get(f"/api/v1/photos/{a['sha256']}", headers=w1)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff" and got.content == original

        # watchers submit entries (readers may not)
        body = {"unit": units[0], "values": _values(rows[units[0]]), "client_id": "w1-0", "photo_sha256": a["sha256"]}
        assert c.post("/api/v1/entries", headers=reader, json={**body, "client_id": "r"}).status_code == 403
        r = c.post("/api/v1/entries", headers=w1, json=body)
        assert r.status_code == 200 and r.json()["state"] == "first_entered" and r.json()["photo_flags"] == []
        r = c.post("/api/v1/entries", headers=w2, json={"unit": units[1], "values": _values(rows[units[1]]), "client_id": "w2-1",
                                                        "photo_sha256": b["sha256"]})
        flags = r.json()["photo_flags"]
        assert [f["kind"] for f in flags] == ["same_photo"] and flags[0]["detail"]["other_unit"] == units[0]
        print(f"same photo for {units[0]} and {units[1]}: pHash distance {flags[0]['detail']['bits']} bits of 64")
        r = c.post("/api/v1/entries", headers=w2, json={"unit": units[2], "values": _values(rows[units[2]]), "client_id": "w2-2",
                                                        "photo_sha256": other["sha256"]})
        assert r.json()["photo_flags"] == []
        assert c.get(f"/api/v1/units/{units[1]}/photos", headers=sc.headers("typist")).json() == [b["sha256"]]
        listed = c.get("/api/v1/photo-flags", headers=sc.headers("coordinator")).json()
        assert sorted(f["unit"] for f in listed) == sorted(units[:2])
        assert c.get("/api/v1/photo-flags", headers=w1).status_code == 403

        # EXIF: taken five days later and 1,000 km away from the table: flagged, the entry stands
        u = units[3]
        lat, lon = float(rows[u]["lat"]), float(rows[u]["lon"])
        far = _exif("2019:10:25 10:00:00", ("S" if lat < 0 else "N", (abs(lat) + 9, 0.0, 0.0)), ("W" if lon < 0 else "E", (abs(lon), 0.0, 0.0)))
        e = upload(_jpeg(_acta(3), exif=far)).json()
        assert e["exif"]["time"] == "2019-10-25T10:00:00" and abs(abs(e["exif"]["lat"]) - (abs(lat) + 9)) < 1e-6
        r = c.post("/api/v1/entries", headers=w1, json={"unit": u, "values": _values(rows[u]), "client_id": "w1-3",
                                                        "photo_sha256": e["sha256"]})
        assert r.status_code == 200 and sorted(f["kind"] for f in r.json()["photo_flags"]) == ["exif_place", "exif_time"]
        # on election night, at the table: nothing to flag
        near = _exif("2019:10:20 19:30:00", ("S" if lat < 0 else "N", (abs(lat), 0.0, 0.0)), ("W" if lon < 0 else "E", (abs(lon), 0.0, 0.0)))
        n = upload(_jpeg(_acta(4), exif=near), w2).json()
        r = c.post("/api/v1/entries", headers=w2, json={"unit": u, "values": _values(rows[u]), "client_id": "w2-3",
                                                        "photo_sha256": n["sha256"]})
        assert r.status_code == 200 and r.json()["photo_flags"] == [] and r.json()["state"] == "agreed"
        assert c.get(f"/api/v1/photos/{e['sha256']}/flags", headers=w1).json()["marks"]["phash"] == e["phash"]
    finally:
        sc.close()
