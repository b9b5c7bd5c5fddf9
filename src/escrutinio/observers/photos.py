"""Photos of actas as evidence: what a photo is (decoded, not guessed from its name),
its perceptual hash, and what its EXIF claims, compared with the table's place and the
election day.

EXIF is written by the phone and can be wrong or forged, so it is never trusted: a photo
whose EXIF time is not on election night, or whose EXIF place is far from the table's
polling place, is *flagged* for a coordinator to look at, and nothing else changes. The
same photo (or a near copy: re-compressed, resized) sent for two tables is flagged the
same way, by the Hamming distance between 64-bit perceptual hashes (pHash, Zauner 2010,
through ``imagehash``).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

#: decoding refuses images larger than this (a decompression bomb is refused, not decoded)
MAX_PIXELS = 60_000_000
#: pHash bits that may differ for two photos to count as the same photo (of 64)
SAME_PHOTO_BITS = 6
#: how far (km) an EXIF position may be from the polling place before it is flagged
PLACE_KM = 10.0
#: election night: from the election day's 06:00 to the next day's 18:00 (local time as EXIF writes it)
NIGHT = (timedelta(hours=6), timedelta(hours=42))

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


class PhotoError(ValueError):
    pass


@dataclass(frozen=True)
class PhotoFacts:
    content_type: str
    ext: str
    width: int
    height: int
    phash: str                       # 16 hex digits
    exif_time: str | None = None     # as the camera wrote it, ISO 8601 without zone
    exif_lat: float | None = None
    exif_lon: float | None = None


def _ratio(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError, ZeroDivisionError):
        num, den = v
        return float(num) / float(den)


def _gps(gps: dict) -> tuple[float | None, float | None]:
    try:
        def deg(values, ref, neg):
            d, m, s = (_ratio(x) for x in values)
            out = d + m / 60.0 + s / 3600.0
            return -out if str(ref).upper().startswith(neg) else out

        lat = deg(gps[2], gps.get(1, "N"), "S")
        lon = deg(gps[4], gps.get(3, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        return None, None
    return lat, lon


def inspect(data: bytes) -> PhotoFacts:
    """Decode the photo fully (Pillow) and read its facts; :class:`PhotoError` when it is
    not a whole JPEG, PNG or WebP image."""
    import warnings

    import imagehash
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if fmt not in FORMATS:
                    raise PhotoError(f"a {fmt or 'unknown'} image; photos must be JPEG, PNG or WebP")
                probe.verify()
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                exif = img.getexif()
                upright = ImageOps.exif_transpose(img)
                phash = str(imagehash.phash(upright.convert("L")))
                width, height = upright.size
    except PhotoError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, EOFError) as exc:
        raise PhotoError(f"the photo cannot be decoded ({exc.__class__.__name__}): a whole JPEG, PNG or WebP image is needed") from exc
    when = None
    raw = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)       # DateTimeOriginal, else DateTime
    if isinstance(raw, str):
        try:
            when = datetime.strptime(raw.strip()[:19], "%Y:%m:%d %H:%M:%S").isoformat()
        except ValueError:
            when = None
    lat, lon = _gps(dict(exif.get_ifd(0x8825)))
    ctype, ext = FORMATS[fmt]
    return PhotoFacts(ctype, ext, int(width), int(height), phash, when, lat, lon)


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius 6,371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def exif_flags(facts: PhotoFacts, place: tuple[float, float] | None, election_day: date | None) -> list[tuple[str, dict]]:
    """(kind, detail) for each EXIF claim that disagrees with the table: ``exif_time``
    (taken outside election night) and ``exif_place`` (taken more than PLACE_KM away)."""
    out = []
    if facts.exif_time and election_day is not None:
        taken = datetime.fromisoformat(facts.exif_time)
        start = datetime.combine(election_day, datetime.min.time())
        if not (start + NIGHT[0] <= taken <= start + NIGHT[1]):
            out.append(("exif_time", {"taken": facts.exif_time, "election_day": election_day.isoformat()}))
    if facts.exif_lat is not None and facts.exif_lon is not None and place is not None:
        d = km(facts.exif_lat, facts.exif_lon, place[0], place[1])
        if d > PLACE_KM:
            out.append(("exif_place", {"km": round(d, 1), "taken_at": [round(facts.exif_lat, 5), round(facts.exif_lon, 5)],
                                       "table_at": [round(place[0], 5), round(place[1], 5)]}))
    return out
