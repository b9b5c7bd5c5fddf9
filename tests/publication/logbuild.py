"""A small election log built in memory with the same chaining as the server."""
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from escrutinio.publication.checkpoint import sign
from escrutinio.publication.log import MemoryLog

AREAS = [("La Paz", "Murillo", "La Paz"), ("La Paz", "Murillo", "El Alto"), ("Santa Cruz", "Andrés Ibáñez", "Santa Cruz"),
         ("Cochabamba", "Cercado", "Cochabamba")]


def record(snapshot_id, contest, i, shift=0):
    dep, prov, mun = AREAS[i % len(AREAS)]
    mas, cc = 40 + (i * 7) % 23 + shift, 30 + (i * 5) % 17
    blank, null = i % 3, (i * 2) % 5
    emitted = mas + cc + blank + null
    return {"snapshot_id": snapshot_id, "contest": contest, "unit": f"{1000 + i}",
            "levels": {"country": "Bolivia", "department": dep, "province": prov, "municipality": mun},
            "values": {"registered": 200, "blank": blank, "null": null, "emitted": emitted, "MAS": mas, "CC": cc}}


def build_log(n_units=12, signed_every=None):
    """Two official snapshots of 'Presidente' (the second replaces the first), one of
    'Diputados', and agreed/resolved copies; returns (log, key, checkpoints)."""
    key = Ed25519PrivateKey.generate()
    log = MemoryLog()
    cps = []
    t = iter(f"2026-11-30T10:{m:02d}:{s:02d}.000000Z" for m in range(60) for s in range(60))

    def checkpoint():
        cps.append(sign(key, len(log), log.tree.root().hex(), log.entries[-1]["time"]))

    def snapshot(sid, contests, n, shift=0):
        log.append("admin", "official_snapshot", {"snapshot_id": sid, "file_sha256": f"{sid:064x}", "source": f"s{sid}.csv",
                                                  "election": "Bolivia 2019", "contests": contests,
                                                  "units": n * len(contests), "exported_at": None}, next(t))
        for c in contests:
            for i in range(n):
                log.append("admin", "official_record", record(sid, c, i, shift), next(t))
        checkpoint()

    snapshot(1, ["Presidente"], n_units // 2)
    snapshot(2, ["Presidente", "Diputados"], n_units, shift=1)
    for i in range(0, n_units, 2):
        r = record(2, "Presidente", i, shift=1)
        log.append("typist", "copy_agreed", {"unit": r["unit"], "contest": "Presidente", "levels": r["levels"],
                                             "values": r["values"], "entry_id": i}, next(t))
    r = record(2, "Presidente", 0, shift=3)
    log.append("coordinator", "copy_resolved", {"unit": r["unit"], "contest": "Presidente", "levels": r["levels"],
                                                "values": r["values"], "entry_id": 99}, next(t))
    log.append("coordinator", "discrepancy_explained", {"unit": "1000", "contest": "Presidente", "field": "MAS",
                                                        "note": "acta repaired in the count"}, next(t))
    checkpoint()
    return log, key, cps
