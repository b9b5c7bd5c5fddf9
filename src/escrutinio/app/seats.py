"""Seats, as a use case: ad hoc apportionment, a country's chambers under its law (the
Bolivia preset, or a law TOML file), and the seat distributions a partial count allows.

The command line (`escrutinio seats`) and the Python API (:func:`escrutinio.seats`) call
these; each answer has ``.to_dict()`` (the command's JSON) and ``.summary()`` (its text).
The seat probabilities live here rather than in ``law`` because they run the projection
(``dynamics``), a layer above the law.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import polars as pl

from escrutinio.app.answer import Printed
from escrutinio.errors import UsageError
from escrutinio.law.apportionment import apportion
from escrutinio.law.bolivia_seats import (COUNTRY, DEPARTMENT_CODES, PRESIDENT, BoliviaOptions, SeatProbabilities,
                                          seat_distribution)
from escrutinio.model import Snapshot


SeatsAnswer = Printed  # what the command prints: its JSON and its text


def parse_votes(text: str) -> dict[str, int]:
    """``A=100000,B=80000`` → {"A": 100000, "B": 80000}; integers only."""
    out: dict[str, int] = {}
    for item in (x for x in text.split(",") if x.strip()):
        if "=" not in item:
            raise UsageError(f"--votes takes PARTY=VOTES pairs separated by commas, got {item!r}")
        name, value = item.rsplit("=", 1)
        name, value = name.strip(), value.strip().replace("_", "")
        try:
            n = int(value)
        except ValueError:
            raise UsageError(f"--votes: votes for {name!r} must be an integer, got {value!r}") from None
        if name in out:
            raise UsageError(f"--votes: party {name!r} given twice")
        out[name] = n
    if not out:
        raise UsageError("--votes is empty")
    return out


def parse_threshold(text: str | None):
    """``3%`` or ``3/100`` → a :class:`Threshold` (None when not given)."""
    from escrutinio.law.apportionment import Threshold

    if not text:
        return None
    try:
        share = Fraction(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--threshold must look like 3% or 3/100, got {text!r}") from None
    return Threshold(share)


def ad_hoc(votes: dict[str, int], seats: int, method: str = "dhondt", threshold=None, tie: str = "block",
           seed: int | None = None) -> SeatsAnswer:
    """One district: ``seats`` apportioned among ``votes`` by ``method``, exactly."""
    res = apportion(votes, seats, method, threshold=threshold, tie=tie, seed=seed)
    payload = {"chambers": {"ad hoc": {
        "total": {p: n for p, n in res.seats.items() if n},
        "by_district": {"all": {p: n for p, n in res.seats.items() if n}},
        "decided": res.decided,
        "explanation": res.explanation(),
        "details": res.to_dict(),
    }}}
    text = res.summary()
    table = res.quotient_table()
    if table and len(table) <= 30 and res.house_size <= 60:
        width = max(len(p) for p in table)
        text += "\n\nQuotients (seats won + the next one):"
        for p, row in table.items():
            text += f"\n  {p:<{width}} " + "  ".join("inf" if q == float("inf") else f"{q:,.2f}" for q in row)
    return SeatsAnswer(payload, text)


def by_law_file(paths: Sequence[str], law_path: str | None = None, mapping=None, tie: str = "block",
                seed: int | None = None) -> SeatsAnswer:
    """Chambers declared by a law TOML file (``law_path``, or the file the mapping's [law] names)."""
    from escrutinio.io import _resolve_mapping, read_election
    from escrutinio.law.lawfile import load_law, seats_from_election

    if law_path is None:
        m = _resolve_mapping(mapping) if mapping else None
        law_path = m.law_file if m is not None else None
        if law_path is None:
            raise UsageError("count files need rules: --preset bolivia, --preset LAW.toml (a law file declaring "
                             "chambers, docs/seats.md), or a mapping whose [law] names such a file")
    law = load_law(law_path)
    election = read_election(list(paths), mapping=mapping)
    results = seats_from_election(election, law, tie=tie, seed=seed)
    payload = {"law": {"name": law.name, "file": str(law_path)},
               "chambers": {k: r.to_dict() for k, r in results.items()}}
    text = "\n\n".join([f"Rules in force: {law.name} ({law_path})"] + [r.summary() for r in results.values()])
    return SeatsAnswer(payload, text)


def bolivia(paths: Sequence[str], options: Sequence[str] = (), roll=None, mapping=None, tie: str = "block",
            seed: int | None = None, simulations: int | None = None) -> SeatsAnswer:
    """Bolivia's Senate and Chamber of Deputies from count files (``options``: KEY=VALUE
    preset options); with ``roll`` the count's coverage, and with ``simulations`` the seat
    distributions the uncounted tables allow."""
    from escrutinio.io import read_election, read_roll
    from escrutinio.law.bolivia_seats import seats_from_election

    pairs = list(options)
    if tie != "block":
        pairs.append(f"tie={tie}")
    if seed is not None:
        pairs.append(f"seed={seed}")
    opts = BoliviaOptions.from_pairs(pairs)
    election = read_election(list(paths), mapping=mapping)
    roll_frame = read_roll(roll) if roll is not None and not isinstance(roll, pl.DataFrame) else roll
    if roll_frame is not None:
        from escrutinio.completeness import check_roll
        from escrutinio.tabulate import progress

        if PRESIDENT in election.contests:
            pres = election.latest(PRESIDENT)
            check_roll(progress(pres.frame, pres, roll_frame), pres.source or pres.name,
                       str(roll) if not isinstance(roll, pl.DataFrame) else "the roll")
    result = seats_from_election(election, opts, roll=roll_frame)
    payload, text = result.to_dict(), result.summary()
    if simulations is not None:
        if roll_frame is None:
            raise UsageError("--probabilities needs --roll (the expected tables)")
        if simulations < 1:
            raise UsageError("--probabilities takes a positive number of simulations")
        probs = seat_probabilities(election.latest(PRESIDENT), roll_frame, options=opts,
                                   simulations=simulations, seed=seed if seed is not None else 0)
        payload["probabilities"] = probs.to_dict()
        text += "\n\n" + probs.summary()
    return SeatsAnswer(payload, text)


def seat_probabilities(
    snapshot: Snapshot,
    roll: pl.DataFrame,
    levels: Sequence[str] | None = None,
    *,
    options: BoliviaOptions | None = None,
    simulations: int = 200,
    seed: int = 0,
    level: float = 0.9,
) -> SeatProbabilities:
    """Senate and proportional-Chamber seat distributions for a partial presidential count.

    ``roll``: every expected table with ``place_id`` and ``registered`` (and the
    ``levels``; without them the 2020 id-derived levels are used)."""
    import numpy as np

    from escrutinio.dynamics.projection import project, roll_levels_2020

    o = options or BoliviaOptions()
    if snapshot.contest != PRESIDENT:
        raise UsageError(f"seat probabilities need the {PRESIDENT!r} contest, got {snapshot.contest!r}")
    if "place_id" not in snapshot.frame.columns or snapshot.frame["place_id"].null_count():
        raise UsageError("seat probabilities need the 16-digit place_id on every counted table")
    if levels is None:
        roll, levels = roll_levels_2020(roll)
    parties = list(snapshot.counted_choices)
    code = pl.col("place_id").str.slice(0, 7)
    counted = snapshot.counted().filter(pl.col("country") == COUNTRY).with_columns(code.alias("__dep"))
    roll_dom = roll.filter(pl.col("place_id").str.slice(1, 1) == "0").with_columns(code.alias("__dep"))
    finals: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for i, dep_code in enumerate(sorted(roll_dom["__dep"].unique().to_list())):
        name = DEPARTMENT_CODES.get(dep_code[5:7], dep_code)
        c_dep = counted.filter(pl.col("__dep") == dep_code).drop("__dep")
        r_dep = roll_dom.filter(pl.col("__dep") == dep_code).drop("__dep")
        if c_dep.height == 0:
            notes.append(f"{name}: no counted table, so no projection; its seats are left out of the totals")
            continue
        r = project(c_dep, r_dep, parties, levels=levels, simulations=simulations, seed=seed + i, level=level)
        base = np.array([int(c_dep[p].sum()) for p in parties], dtype=np.int64)
        imputed = np.rint(r.draws[:, : len(parties)]).astype(np.int64)
        finals[name] = np.clip(base[None, :] + imputed, 0, None)
    deps = [d for d in o.seat_table if d in finals]
    S = simulations
    sen = np.zeros((S, len(parties)), dtype=np.int64)
    cham = np.zeros((S, len(parties)), dtype=np.int64)
    sen_dep = {d: np.zeros((S, len(parties)), dtype=np.int64) for d in deps}
    th = o.threshold_rule()
    for s in range(S):
        national = {p: int(sum(finals[d][s, j] for d in deps)) for j, p in enumerate(parties)}
        for d in deps:
            votes = {p: int(finals[d][s, j]) for j, p in enumerate(parties)}
            if sum(votes.values()) == 0:
                continue
            a = apportion(votes, o.senators_per_department, "dhondt", tie="lot", seed=seed * 100003 + s)
            b = apportion(votes, o.seat_table[d].uninominal + o.seat_table[d].plurinominal, "dhondt",
                          threshold=th, national_votes=national, tie="lot", seed=seed * 100003 + s)
            for j, p in enumerate(parties):
                sen[s, j] += a.seats[p]
                sen_dep[d][s, j] = a.seats[p]
                cham[s, j] += b.seats[p]
    sen_seats = o.senators_per_department * len(deps)
    cham_seats = sum(o.seat_table[d].uninominal + o.seat_table[d].plurinominal for d in deps)
    sen_total, sen_major = seat_distribution(sen, parties, sen_seats, level)
    cham_total, cham_major = seat_distribution(cham, parties, cham_seats, level)
    chambers = {
        "senate": {"seats": sen_seats, "majority": sen_major, "total": sen_total,
                   "by_district": {d: seat_distribution(sen_dep[d], parties, o.senators_per_department, level)[0] for d in deps}},
        "deputies_proportional": {"seats": cham_seats, "majority": cham_major, "total": cham_total,
                                  "scope": "uninominal + plurinominal entitlement, no overhang, special seats excluded"},
    }
    counted_n = counted.height
    coverage = {"tables_counted": counted_n, "tables_expected": roll_dom.height,
                "departments_projected": deps}
    return SeatProbabilities(S, seed, level, chambers, coverage, notes)
