"""How far from random a count order was, measured after the fact.

Why: the multilevel projection widens its interval by a prior on how strongly the count
order is correlated with the vote inside its strata (:class:`escrutinio.dynamics.multilevel._Selection`).
That prior is a measured property of real count orders, and this module measures it on
any count whose final result and arrival order are known (Bolivia 2019: TREP and final
count arrival), so the figure can be redone and checked on other elections.

Statistic, per cut (the first ``cut``% of tables in arrival order, weighted by registered
voters, within strata): Meng's data defect correlation rho between "counted by the cut"
and a table's vote rate (votes per registered voter), and its latent-propensity form
r = rho sqrt(f (1 - f)) / phi(Phi^-1(1 - f)), where f is the share counted (Meng 2018,
Ann. Appl. Stat. 12; Heckman 1979). r does not depend on f when tables are counted in
the order of a normal propensity correlated r with the vote.

Tables of one polling place arrive together or at random among themselves (Bolivia 2019:
rho within places is 0.00 to 0.01), so the order selects places, not tables. With
``place`` given, r is also expressed against the spread of place means (the table spread
less the within-place variance): ``r_place = r sigma_table / sigma_place``. r sigma is the
bias and does not change; the projection pairs ``r_place`` with the spread of place means,
which table-level noise does not inflate.

With ``given`` (place-level covariates, e.g. the same party's rate in another election,
or the log of the voters within 5 km), the outcome is first taken net of them: the table
rate less the within-strata weighted least-squares fit on the covariates. This is the
selection a projection that uses those covariates still faces.

Null: random order (rho of order 1 / sqrt(N)). Caveat: r summarises one order and one
outcome; another election's order can be more or less selective.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import polars as pl
from scipy.stats import norm

from escrutinio.errors import UsageError


@dataclass
class OrderSelection:
    order: str
    outcome: str
    strata: list[str]
    rows: list[dict]  # cut, f, rho, r (and r_place with places)

    def rms(self, key: str = "r") -> float:
        r = np.array([x[key] for x in self.rows if key in x and np.isfinite(x[key])])
        return float(np.sqrt(np.mean(r**2))) if r.size else float("nan")

    @property
    def r_rms(self) -> float:
        return self.rms("r")

    def to_dict(self) -> dict:
        return asdict(self) | {"r_rms": self.r_rms, "r_place_rms": self.rms("r_place")}

    def summary(self) -> str:
        lines = [f"Selection of the order {self.order!r} on {self.outcome} within {' x '.join(self.strata) or 'the whole count'}"]
        lines += [f"  {x['cut']:>5g}% of tables  f={x['f']:.3f}  rho={x['rho']:+.3f}  r={x['r']:+.3f}"
                  + (f"  r_place={x['r_place']:+.3f}" if "r_place" in x else "") for x in self.rows]
        lines.append(f"  root mean square of r: {self.r_rms:.3f}"
                     + (f", of r_place: {self.rms('r_place'):.3f}" if any("r_place" in x for x in self.rows) else ""))
        return "\n".join(lines)


def order_selection(frame: pl.DataFrame, order: str, outcome: str, strata: Sequence[str],
                    cuts: Sequence[float] = (2.5, 10, 16, 21, 50, 75), registered: str = "registered",
                    place: str | None = None, given: str | Sequence[str] | None = None) -> OrderSelection:
    """``frame``: one row per table with its arrival position ``order`` (smaller = earlier;
    percent or rank), the ``outcome`` votes and ``registered`` voters; ``place``: the
    polling-place column, for ``r_place``; ``given``: numeric covariate columns (no
    nulls) to take the outcome net of."""
    f = frame.filter(pl.col(registered) > 0).with_columns(
        (pl.col(outcome) / pl.col(registered)).alias("_y"), pl.col(order).rank("ordinal").alias("_rank"))
    n = f.height
    w = f[registered].cast(pl.Float64).to_numpy()
    keys = [pl.col(s) for s in strata] or [pl.lit(0)]
    given = [given] if isinstance(given, str) else list(given or ())
    if given:
        for g in given:
            missing = f[g].is_null() | f[g].cast(pl.Float64).is_nan()
            if missing.any():
                raise UsageError(f"order_selection: {int(missing.sum()):,} tables have no value of {g!r}; "
                                 f"a measurement net of it needs it for every table")

        def within(c: str) -> pl.Expr:
            return pl.col(c) - (pl.col(c) * pl.col(registered)).sum().over(keys) / pl.col(registered).sum().over(keys)
        dm = f.select(within("_y").alias("_y"), *[within(g).cast(pl.Float64).alias(f"_g{i}") for i, g in enumerate(given)])
        X = dm.select([f"_g{i}" for i in range(len(given))]).to_numpy()
        sw = np.sqrt(w)[:, None]
        # least squares within strata; a covariate constant within every stratum (a zero
        # column) explains nothing inside them and gets no slope
        slope = np.linalg.lstsq(X * sw, dm["_y"].to_numpy() * sw[:, 0], rcond=None)[0]
        f = f.with_columns(pl.col("_y") - pl.Series(f.select([pl.col(g).cast(pl.Float64) for g in given]).to_numpy() @ slope))
    ratio = None
    if place is not None:
        # spread of table rates within strata, and within places (registered-weighted)
        def spread(by):
            m = (pl.col("_y") * pl.col(registered)).sum().over(by) / pl.col(registered).sum().over(by)
            d = f.select(((pl.col("_y") - m) ** 2 * pl.col(registered)).sum() / pl.col(registered).sum()).item()
            return float(d)
        v_table, v_within = spread(keys), spread([*keys, pl.col(place)])
        ratio = np.sqrt(v_table / max(v_table - v_within, 1e-12))
    rows = []
    for cut in cuts:
        g = f.with_columns((pl.col("_rank") <= n * cut / 100).cast(pl.Float64).alias("_R"))
        g = g.with_columns([((pl.col(c) * pl.col(registered)).sum().over(keys) / pl.col(registered).sum().over(keys)).alias(c + "_m")
                            for c in ("_y", "_R")])
        y = (g["_y"] - g["_y_m"]).to_numpy()
        r_ = (g["_R"] - g["_R_m"]).to_numpy()
        frac = float((g["_R"].to_numpy() * w).sum() / w.sum())
        den = np.sqrt((w * y * y).sum() * (w * r_ * r_).sum())
        rho = float((w * y * r_).sum() / den) if den > 0 else float("nan")
        r = rho * np.sqrt(frac * (1 - frac)) / norm.pdf(norm.ppf(1 - frac)) if 0 < frac < 1 else float("nan")
        rows.append({"cut": float(cut), "f": frac, "rho": rho, "r": float(r)}
                    | ({"r_place": float(r * ratio)} if ratio is not None else {}))
    label = outcome if not given else f"{outcome} net of {', '.join(given)}"
    return OrderSelection(order=order, outcome=label, strata=list(strata), rows=rows)
