"""Generate the fictional 'Ruritania 2024' count used to document mappings.

A made-up country (3 regions, 24 districts, 2,400 polling tables) written the way many
electoral bodies publish: semicolon-separated, Latin-1, thousands separators, padded
names, Spanish-style headers. Seeded, so the file is reproducible:
    python examples/ruritania/make_ruritania.py
"""
from pathlib import Path

import numpy as np

rng = np.random.default_rng(2024)
regions = {"Norte": 0.55, "Centro": 0.45, "Sur": 0.35}
parties = ["Partido Azul", "Unión Roja", "Verdes", "Independientes"]
rows = ["Mesa;Región;Distrito;Local de votación;Electores;Partido Azul;Unión Roja;Verdes;Independientes;Votos en blanco;Votos nulos;Votantes"]
unit = 0
for region, blue in regions.items():
    for d in range(8):
        district = f"Distrito {region[0]}{d + 1:02d}"
        lean = np.clip(blue + rng.normal(0, 0.06), 0.05, 0.9)
        for place in range(10):
            for table in range(10):
                unit += 1
                registered = int(rng.integers(300, 1500))
                turnout = np.clip(rng.normal(0.72, 0.06), 0.3, 0.98)
                voters = rng.binomial(registered, turnout)
                blank, null = rng.binomial(voters, 0.02), rng.binomial(voters, 0.03)
                valid = voters - blank - null
                p = np.array([lean, (1 - lean) * 0.7, (1 - lean) * 0.2, (1 - lean) * 0.1])
                votes = rng.multinomial(valid, p / p.sum())
                fmt = lambda n: f"{n:,}".replace(",", ".")
                rows.append(";".join([f"R-{unit:05d}", f" {region} ", district, f"Escuela Nº {place + 1}  ",
                                      fmt(registered), *[fmt(v) for v in votes], str(blank), str(null), fmt(voters)]))
Path(__file__).with_name("ruritania_2024.csv").write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
print(f"wrote {unit} tables")
