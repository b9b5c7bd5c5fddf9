"""The election-night demo (``escrutinio server demo``), run through the real HTTP API
in process: every step is a request a real client would make."""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl

EXAMPLES = ("examples", "bolivia", "2019")
TREP = "trep_2019-10-20T19-40-57.csv.gz"
COMPUTO = "computo_2019-10-25.csv.gz"


def example_file(name: str) -> Path:
    """The bundled 2019 files (in a source checkout: ``examples/bolivia/2019``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.joinpath(*EXAMPLES, name)
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{name} not found: the demo needs the repository's examples/bolivia/2019 folder")


def _fmt_int(n) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def run_demo(database: str, n_actas: int = 300, seed: int = 2019, echo: Callable[[str], None] = print,
             projection: bool = True) -> dict:
    from escrutinio.server.inprocess import test_client_class
    TestClient = test_client_class()

    from escrutinio.io import read_snapshots
    from escrutinio.server.app import create_app
    from escrutinio.server.settings import Settings
    from escrutinio.server.storage import users
    from escrutinio.server.storage.db import Database, migrate

    migrate(database)
    db = Database(database)
    tokens = {}
    with db.session(write=True) as s:
        existing = {u["name"] for u in users.list_users(s)}
        for name, role in (("demo-admin", "admin"), ("demo-typist-1", "typist"), ("demo-typist-2", "typist"),
                           ("demo-coordinator", "coordinator")):
            if name in existing:  # a rerun: fresh tokens for the demo's own accounts
                from sqlalchemy import update

                from escrutinio.server.storage.tables import users as users_table

                token = users.new_token()
                s.execute(update(users_table).where(users_table.c.name == name).values(token_hash=users.hash_token(token)))
            else:
                token = users.add_user(s, name, role)[1]
            tokens[name] = {"Authorization": f"Bearer {token}"}
    db.dispose()

    # the roll (every expected table with its registered voters) is the final count's
    # list of tables: the OEP publishes that list before election day
    app = create_app(Settings(database_url=database, roll=example_file(COMPUTO) if projection else None))
    out: dict = {"database": database}
    with TestClient(app) as client:
        echo("1. 20 Oct 2019, 19:40: the preliminary count (TREP) stops. Loading it...")
        for label, name in (("trep", TREP), ("computo", COMPUTO)):
            path = example_file(name)
            with open(path, "rb") as f:
                r = client.post("/api/v1/official", files={"file": (name, f, "application/gzip")}, headers=tokens["demo-admin"])
            r.raise_for_status()
            body = r.json()
            out[label] = body
            res = client.get("/api/v1/results", params={"source": "official"}).json()
            lead = _lead(res)
            echo(f"   snapshot {body['snapshot_id']}: {body['units']:,} actas ({'new' if body['created'] else 'already loaded'}); "
                 f"{lead}")
            echo(f"   {_verdict(res)}")
            if label == "trep":
                if projection:
                    p = client.get("/api/v1/projection").json()
                    out["projection"] = p
                    lp = p.get("lead_points")
                    if p.get("status") == "ok" and lp:
                        echo(f"   projection from this partial count: lead {lp['point']:.2f} points "
                             f"[{lp['lo']:.2f}, {lp['hi']:.2f}] ({' vs '.join(lp.get('between') or [])}); "
                             + (f"P(first-round win) = {pf:.2f}"
                                if (pf := p.get('outcome_probabilities', {}).get('first_round_win')) is not None
                                else "P(first-round win) withheld (see the projection's notes)"))
                    else:
                        echo(f"   projection: {p.get('note') or p.get('status')}")
                echo("2. 25 Oct: the final count (cómputo) arrives. Loading it...")

        computo = read_snapshots(example_file(COMPUTO))[0]
        choices = list(computo.choices)
        fields = [*choices, "blank", "null", "registered", "emitted"]
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(computo.frame.height, size=min(n_actas, computo.frame.height), replace=False))
        rows = computo.frame.select("unit", *fields)[pick].to_dicts()
        n = len(rows)
        slips = set(rng.choice(n, size=max(1, n // 12), replace=False).tolist())          # second typist mistypes
        really = set(rng.choice(sorted(set(range(n)) - slips), size=max(1, n // 40), replace=False).tolist())  # copy differs
        echo(f"3. Watchers' copies of {n} actas, each typed twice by two typists "
             f"({len(slips)} with a typing slip by the second typist, {len(really)} whose copy really differs)...")
        states: dict[str, int] = {}
        for i, row in enumerate(rows):
            values = {f: int(row[f]) for f in fields}
            if i in really:  # the watcher's copy says 10 votes more for the first choice than the official row
                values[choices[0]] += 10
                values["emitted"] += 10
                values["registered"] = max(values["registered"], values["emitted"])
            second = dict(values)
            if i in slips:
                f = choices[int(rng.integers(len(choices)))]
                second[f] = second[f] + 1 if second[f] < 9 else second[f] // 10
            for typist, vals in (("demo-typist-1", values), ("demo-typist-2", second)):
                r = client.post("/api/v1/entries", headers=tokens[typist], json={
                    "unit": row["unit"], "values": vals, "client_id": f"demo-{seed}-{typist}-{row['unit']}"})
                if r.status_code != 200:
                    raise RuntimeError(f"entry refused: {r.status_code} {r.text}")
            states[r.json()["state"]] = states.get(r.json()["state"], 0) + 1
        echo("   after the second entry: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
        different = client.get("/api/v1/entries/different", headers=tokens["demo-coordinator"]).json()
        to_resolve = [d for d in different if d["state"] == "different"]
        resolved = 0
        for d in to_resolve[: max(1, (2 * len(to_resolve)) // 3)]:
            # the coordinator reads the photo: the first typist was right
            first = d["entries"][0]["values"]
            r = client.post(f"/api/v1/entries/{d['unit']}/resolve", headers=tokens["demo-coordinator"],
                            json={"values": first, "note": "checked against the photo"})
            r.raise_for_status()
            resolved += 1
        echo(f"4. The coordinator resolves {resolved} of the {len(to_resolve)} differing actas from the photos; "
             f"{len(to_resolve) - resolved} still wait.")
        disc = client.get("/api/v1/discrepancies").json()
        if disc:
            first = disc[0]
            client.post("/api/v1/discrepancies/explain", headers=tokens["demo-coordinator"],
                        json={"unit": first["unit"], "field": first["field"],
                              "note": "the watcher's copy is legible; asking the departmental court for the original"})
            disc = client.get("/api/v1/discrepancies").json()
        echo(f"5. Discrepancies between counted copies and the official count: {len(disc)}")
        echo(f"   {'acta':>8}  {'field':<12} {'official':>9} {'copy':>9}  explained  area")
        for d in disc[:40]:
            echo(f"   {d['unit']:>8}  {d['field']:<12} {d['official']:>9,} {d['copy']:>9,}  {'yes' if d['explained'] else 'no':<9}  {d['path'] or '?'}")
        if len(disc) > 40:
            echo(f"   ... {len(disc) - 40} more (GET /api/v1/discrepancies)")
        both = client.get("/api/v1/results", params={"source": "both"}).json()
        echo("6. Live results, official count vs watchers' copies (same actas):")
        o, c = both["official_same_units"], both["copies"]
        echo(f"   {'':<12} {'official':>12} {'copies':>12}")
        echo(f"   {'actas':<12} {o['units']:>12,} {c['units']:>12,}")
        for k in ("valid", "blank", "null", "emitted"):
            echo(f"   {k:<12} {o[k]:>12,} {c[k]:>12,}")
        for ch in sorted(o["choices"], key=lambda x: -o["choices"][x])[:5]:
            echo(f"   {ch:<12} {o['choices'][ch]:>12,} {c['choices'].get(ch, 0):>12,}")
        full = both["official"]
        echo(f"   whole official count: {full['units']:,} actas; {_lead(full)}")
        echo("   see it live: escrutinio serve --database " + database)
        out.update({"states": states, "resolved": resolved, "discrepancies": disc, "results": both})
    app.state.db.dispose()
    return out


def _lead(res: dict) -> str:
    v = res.get("verdict") or {}
    shares = res.get("shares") or {}
    if not v.get("winner") or not v.get("runner_up"):
        return ""
    return (f"{v['winner']} {shares[v['winner']]:.2f}%, {v['runner_up']} {shares[v['runner_up']]:.2f}% "
            f"(lead {v['lead_points']:.2f} points)")


def _verdict(res: dict) -> str:
    v = res.get("verdict") or {}
    return str(v.get("explanation") or v.get("outcome") or "")
