"""Benchmark and figures for the audit capability. Prints; asserts nothing.

    python benchmarks/bench_audit.py
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from escrutinio.audit import assertions as A
from escrutinio.audit import kaplan_markov as km
from escrutinio.audit import sample_size as ss
from escrutinio.audit.alpha import alpha_sample_sizes
from escrutinio.audit.bravo import bravo_simulate

DATA = Path(__file__).parents[1] / "examples" / "bolivia" / "2019"


def timed(label, fn):
    t = time.perf_counter()
    out = fn()
    print(f"{label}: {time.perf_counter() - t:.3f} s")
    return out


def synthetic(P=35_000, seed=0):
    rng = np.random.default_rng(seed)
    reg = rng.integers(150, 300, P)
    turnout = rng.uniform(0.8, 0.95, P)
    valid = (reg * turnout * 0.95).astype(np.int64)
    shares = rng.dirichlet([47, 36, 9, 4, 4], P)
    votes = np.floor(shares * valid[:, None]).astype(np.int64)
    return [str(i) for i in range(P)], votes, ["W", "R", "C", "D", "E"], reg


def main():
    print("== speed: sample-size estimation for 35,000 batches ==")
    ids, votes, choices, reg = synthetic()
    totals = {c: int(v) for c, v in zip(choices, votes.sum(axis=0))}

    def estimate_all():
        asr = A.first_round(totals, "bolivia")
        model = km.build_batches(asr, ids, votes, choices, reg)
        return model, km.estimate(model, 0.05)

    model, est = timed("build assertions + MACRO bounds + zero-discrepancy size (35,000 batches)", estimate_all)
    print(" ", est.summary())
    rng = np.random.default_rng(1)
    t = np.where(rng.random(len(ids)) < 0.02, rng.uniform(-0.2, 0.4, len(ids)), 0.0)
    est2 = timed("  + 1,000 simulated audits with 2% of tables in error",
                 lambda: km.estimate(model, 0.05, t, reps=1000, max_n=10 * est.zero_discrepancy))
    print(" ", est2.summary())

    print("\n== speed: simulation studies of 1,000 audits ==")
    n = timed("BRAVO, margin 10%, alpha 10%, 1,000 audits", lambda: bravo_simulate(0.55, 0.45, 0.1, reps=1000))
    print(f"  mean {n.mean():.1f} (formula ASN 470)")
    pop = np.zeros(10_000)
    pop[:5_500] = 1
    n = timed("ALPHA polling theta=0.55 with replacement, 1,000 audits",
              lambda: alpha_sample_sizes(pop, eta0=0.55, risk_limit=0.05, reps=1000, with_replacement=True,
                                         max_n=8000, seed=1))
    print(f"  mean {n.mean():.1f}")
    n = timed("ALPHA polling theta=0.55 without replacement N=10,000, 1,000 audits",
              lambda: alpha_sample_sizes(pop, eta0=0.55, risk_limit=0.05, reps=1000, seed=1))
    print(f"  mean {n.mean():.1f}")

    print("\n== ALPHA paper check (eta_0 = theta, d = 100, alpha = 0.05, with replacement, 4,000 audits) ==")
    for theta, published in [(0.55, 702), (0.60, 160), (0.70, 40)]:
        pop = np.zeros(10_000)
        pop[: int(theta * 10_000)] = 1
        n = alpha_sample_sizes(pop, eta0=theta, risk_limit=0.05, reps=4000, with_replacement=True, max_n=8000, seed=2)
        print(f"  theta {theta}: mean {n.mean():.1f} +- {n.std() / np.sqrt(n.size):.1f} (published {published})")

    print("\n== oracles ==")
    for m in (0.4, 0.2, 0.1):
        print(f"  BRAVO ASN margin {m:.0%}:", [ss.bravo([0.5 + m / 2, 0.5 - m / 2], a).expected for a in (0.1, 0.05)])
    print("  super-simple alpha 10%:", [ss.supersimple(mu, 0.1).expected for mu in (0.2, 0.1, 0.05, 0.01)])

    if (DATA / "computo_2019-10-25.csv.gz").exists():
        print("\n== Bolivia 2019: 'MAS won in the first round', batch comparison, risk limit 5% ==")
        import tempfile

        from escrutinio.audit import workflow
        from escrutinio.workspace import Workspace

        with tempfile.TemporaryDirectory() as d:
            ws = Workspace(Path(d) / "ws.duckdb")
            out = timed("plan (read both files, 1,000 simulated audits)", lambda: workflow.plan(
                ws, DATA / "computo_2019-10-25.csv.gz", risk_limit=0.05,
                discrepancies=DATA / "trep_2019-10-21T18-29-53.csv.gz", reps=1000))
            ws.close()
        for a in out["assertions"]:
            print(f"  {a['name']}: diluted margin {a['diluted_margin']:.4%} of registered voters")
        print(f"  tables {out['tables']}, total error bound U = {out['total_error_bound']:.2f}")
        print(f"  zero discrepancies: {out['zero_discrepancy']} draws")
        w = out["with_discrepancies"]
        print(f"  TREP-like discrepancies ({w['tables_differing']} tables differ): expected {w['expected']:.1f} draws, "
              f"{w['distinct_expected']:.1f} distinct tables, quantiles {w['quantiles']}, "
              f"full count in {w['escalation_rate']:.1%}")


if __name__ == "__main__":
    main()
