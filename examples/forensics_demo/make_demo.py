"""Generate the fictional "Freedonia 2025" table-level count used by docs/forensics.md.

6,000 tables in 6 provinces; polling places of 4 tables. Clean everywhere (binomial
counts around normal turnout and shares, escrutinio.forensics.simulate.simulate_fair)
except province "Sur", where Klimek et al. (2012) fraud is injected (f_i = 0.3,
f_e = 0.05), and 12 tables whose tallies were copied from a neighbouring table.
Seeded: running it again writes the same file.

    python examples/forensics_demo/make_demo.py
"""
from pathlib import Path

import numpy as np
import polars as pl

from escrutinio.forensics.core import StationData
from escrutinio.forensics.simulate import inject_klimek, simulate_fair

HERE = Path(__file__).parent
PROVINCES = ["Norte", "Centro", "Este", "Oeste", "Costa", "Sur"]


def main() -> None:
    rng = np.random.default_rng(2025)
    n = 6000
    reg = rng.integers(120, 420, n)
    d = simulate_fair(reg, mu_t=0.78, sd_t=0.07, mu_v=0.46, sd_v=0.1, n_choices=4, seed=7)
    prov = np.array(PROVINCES)[np.arange(n) * len(PROVINCES) // n]
    sur = prov == "Sur"
    sub = d.subset(sur)
    dirty, _ = inject_klimek(sub, 0.3, 0.05, seed=8)
    emitted, valid, votes = d.emitted.copy(), d.valid.copy(), d.votes.copy()
    emitted[sur], valid[sur], votes[sur] = dirty.emitted, dirty.valid, dirty.votes
    # 12 tables copy the tally of the previous table in the same polling place
    place = (np.arange(n) // 4)
    copies = rng.choice(np.flatnonzero((np.arange(n) % 4 == 1) & ~sur), 12, replace=False)
    votes[copies] = votes[copies - 1]
    valid[copies] = valid[copies - 1]
    emitted[copies] = np.minimum(emitted[copies - 1], reg[copies])
    emitted = np.maximum(emitted, valid)
    blank = rng.binomial(emitted - valid, 0.3)
    null = emitted - valid - blank
    df = pl.DataFrame({
        "Acta": [f"FR-{i + 1:05d}" for i in range(n)],
        "Provincia": prov,
        "Municipio": [f"{p[:3].upper()}-{(i // 200) % 10 + 1:02d}" for i, p in enumerate(prov)],
        "Escuela": [f"Escuela {p + 1}" for p in place],
        "Inscritos": reg,
        "Partido Azul": votes[:, 0], "Unión Roja": votes[:, 1], "Verdes": votes[:, 2], "Otros": votes[:, 3],
        "Blancos": blank, "Nulos": null, "Votantes": emitted,
    })
    df.write_csv(HERE / "freedonia_2025.csv")
    print(f"wrote {HERE / 'freedonia_2025.csv'}: {df.height} tables")


if __name__ == "__main__":
    main()
