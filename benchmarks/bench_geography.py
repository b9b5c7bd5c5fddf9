"""How remote each polling place is (escrutinio.dynamics.geography.voters_within): the
roll's registered voters within 5, 20 and 60 km of every place.

Prints the time for Bolivia 2020's 5,484 places (three radii), and for a synthetic
country of 200,000 places, a third of them in ten cities of about 10 km radius, at the 5 km
the projection uses. The cost grows with the pairs of places within the radius; memory is
bounded by doing them in steps (geography.PAIRS_PER_CHUNK).

    python benchmarks/bench_geography.py
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from escrutinio.dynamics.geography import RADII_KM, voters_within
from escrutinio.dynamics.sources import read_places

DATA = Path(__file__).resolve().parents[1] / "examples" / "bolivia"


def main() -> None:
    places = read_places(DATA / "2020" / "polling_places_2020.csv.gz")
    lat, lon = places["lat"].to_numpy(), places["lon"].to_numpy()
    R = np.full(lat.size, 1000.0)
    t = time.perf_counter()
    v = voters_within(lat, lon, R)
    print(f"Bolivia 2020, {lat.size:,} places, radii {RADII_KM} km: {time.perf_counter() - t:.2f} s")
    print(f"  median places within 5 / 20 / 60 km: {' / '.join(f'{x:,.0f}' for x in np.nanmedian(v, 0) / 1000)}")
    rng = np.random.default_rng(0)
    n = 200_000
    city = rng.integers(0, 10, n // 3)
    centres = rng.uniform([-20, -68], [-10, -58], (10, 2))
    lat = np.r_[centres[city, 0] + rng.normal(0, 0.1, city.size), rng.uniform(-20, -10, n - city.size)]
    lon = np.r_[centres[city, 1] + rng.normal(0, 0.1, city.size), rng.uniform(-68, -58, n - city.size)]
    R = rng.integers(200, 3000, n).astype(float)
    t = time.perf_counter()
    v = voters_within(lat, lon, R, (5.0,))
    print(f"synthetic, {n:,} places, a third in ten cities, 5 km: {time.perf_counter() - t:.2f} s")
    print(f"  largest places within 5 km of a place: {np.nanmax(v[:, 0]) / R.mean():,.0f} (in registered voters "
          f"{np.nanmax(v[:, 0]):,.0f})")


if __name__ == "__main__":
    main()
