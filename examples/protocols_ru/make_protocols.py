"""Generate a small fictional count laid out like Russia's CEC precinct protocols.

One row per precinct commission (UIK), the way the CEC's result pages and the datasets
Kobak, Shpilkin and Pshenichnikov analysed publish them: registered voters, ballots issued
in three columns (early, at the station, outside it), invalid and valid ballots, and one
column per candidate. There is no blank-ballot column (blank ballots are invalid), and
UIK numbers repeat across regions, so a precinct is identified by region + UIK.

4 regions x 5 territorial commissions (TIK) x 30 precincts = 600 rows. Clean everywhere
except two TIKs of region "Южная область", where ballots for the leader are stuffed in
a third of the precincts (turnout and leader share rise together). A handful of precincts
have a few ballots issued that were not found in the box (issued > valid + invalid).

Two files: the final count and an earlier snapshot with the precincts counted by
21:00 (late precincts are the larger, urban ones). Seeded: running it again writes the
same files.

    python examples/protocols_ru/make_protocols.py
"""
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).parent
REGIONS = {"Северная область": 0.52, "Центральная область": 0.47, "Южная область": 0.55, "Западный край": 0.44}
CANDIDATES = ["Иванов", "Петров", "Сидорова", "Кузнецов"]
COLUMNS = {
    "registered": "Число избирателей, внесенных в список",
    "early": "Число бюллетеней, выданных досрочно",
    "station": "Число бюллетеней, выданных в помещении",
    "outside": "Число бюллетеней, выданных вне помещения",
    "invalid": "Число недействительных бюллетеней",
    "valid": "Число действительных бюллетеней",
}
FINAL = "protocols_ru_2024-03-18T09-00-00.csv"
PARTIAL = "protocols_ru_2024-03-17T21-00-00.csv"


def main() -> None:
    rng = np.random.default_rng(1803)
    rows = []
    for r_i, (region, lean) in enumerate(REGIONS.items()):
        uik = 0  # UIK numbers restart in every region
        for t in range(5):
            tik = f"ТИК №{t + 1}"
            tik_lean = np.clip(lean + rng.normal(0, 0.04), 0.2, 0.8)
            stuffed_tik = region == "Южная область" and t in (3, 4)
            for k in range(30):
                uik += 1
                urban = rng.random() < 0.5
                registered = int(rng.integers(1200, 2600) if urban else rng.integers(300, 1200))
                turnout = np.clip(rng.normal(0.62 if urban else 0.66, 0.05), 0.3, 0.95)
                voters = int(rng.binomial(registered, turnout))
                invalid = int(rng.binomial(voters, 0.015))
                valid = voters - invalid
                p = np.array([tik_lean, (1 - tik_lean) * 0.45, (1 - tik_lean) * 0.35, (1 - tik_lean) * 0.2])
                votes = rng.multinomial(valid, p / p.sum())
                if stuffed_tik and rng.random() < 1 / 3:
                    extra = int(min(registered - voters, rng.integers(150, 400)))
                    votes[0] += extra
                    valid += extra
                    voters += extra
                outside = int(rng.binomial(voters, 0.04))
                early = int(rng.binomial(voters - outside, 0.01))
                station = voters - outside - early
                if rng.random() < 0.01:  # ballots issued but not found in the box
                    station += int(rng.integers(1, 4))
                rows.append({"Регион": region, "ТИК": tik, "УИК": str(uik),
                             COLUMNS["registered"]: registered, COLUMNS["early"]: early,
                             COLUMNS["station"]: station, COLUMNS["outside"]: outside,
                             COLUMNS["invalid"]: invalid, COLUMNS["valid"]: valid,
                             **{c: int(v) for c, v in zip(CANDIDATES, votes)}, "_urban": urban})
    df = pl.DataFrame(rows)
    df.drop("_urban").write_csv(HERE / FINAL)
    # by 21:00, most small precincts and fewer large ones had reported
    counted = np.where(df["_urban"].to_numpy(), rng.random(df.height) < 0.35, rng.random(df.height) < 0.8)
    df.filter(pl.Series(counted)).drop("_urban").write_csv(HERE / PARTIAL)
    print(f"wrote {HERE / FINAL} ({df.height} precincts) and {HERE / PARTIAL} ({int(counted.sum())} precincts)")


if __name__ == "__main__":
    main()
