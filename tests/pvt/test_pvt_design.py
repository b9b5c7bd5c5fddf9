"""PVT design: the vectorised sampler equals the audit sampler, allocation bounds, frame
hash, reproducibility to the byte."""
import hashlib
import json

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from escrutinio.audit.sampling import consistent_sample, first_ticket, manifest_hash, sha256_hex
from escrutinio.cli import main
from escrutinio.errors import UsageError
from escrutinio.pvt import tickets
from escrutinio.pvt.design import Design, allocate, frame_sha256, make_design

COMPUTO = "examples/bolivia/2019/computo_2019-10-25.csv.gz"
# SHA-256 of the sampled ids, one per line, for seed 7, n 1500, strata department.
EXPECTED_SAMPLE_SHA256 = "39912a754ffefb69697d055e4d4eed0725cce13210a0f854a4a2abbd395e822a"


def test_vectorised_order_is_the_audit_sampler():
    ids = [f"M-{i}" for i in range(5000)] + ["B-2", "ñandú", ""]
    order = tickets.ticket_order(ids, "314159")
    assert [ids[j] for j in order] == [t.id for t in consistent_sample(ids, "314159")]


def test_ties_on_nine_digits_are_settled_by_full_tickets(monkeypatch):
    coarse = tickets.order_keys
    monkeypatch.setattr(tickets, "order_keys", lambda limbs: coarse(limbs) // np.uint64(10**7))
    ids = [str(i) for i in range(2000)]
    order = tickets.ticket_order(ids, 11)
    assert [ids[j] for j in order] == sorted(ids, key=lambda i: first_ticket(i, 11))


def test_audit_docs_example():
    # docs/audit.md §3: seed 314159, first four of A-1..B-3 are B-2, B-3, A-3, A-2
    ids = ["A-1", "A-2", "A-3", "B-1", "B-2", "B-3"]
    assert [ids[j] for j in tickets.ticket_order(ids, 314159)][:4] == ["B-2", "B-3", "A-3", "A-2"]


@pytest.mark.parametrize("sizes,weights,n", [
    ([10, 20, 30, 40], [1, 2, 3, 4], 10),
    ([3, 1000, 5, 2], [3, 1000, 5, 2], 50),
    ([100, 100], [1, 9], 100),
    ([5, 5, 5], [0, 0, 1], 15),
])
def test_allocation_bounds_and_sum(sizes, weights, n):
    out = allocate(np.array(sizes), np.array(weights, float), n)
    assert out.sum() == n
    assert np.all(out <= np.array(sizes)) and np.all(out >= np.minimum(sizes, 2))


def test_allocation_is_proportional_when_free():
    assert allocate(np.array([100, 200, 700]), np.array([100, 200, 700.0]), 100).tolist() == [10, 20, 70]
    assert allocate(np.array([100, 100]), np.array([1.0, 3.0]), 40).tolist() == [10, 30]


def test_allocation_errors():
    with pytest.raises(UsageError):
        allocate(np.array([5, 5]), np.array([1.0, 1.0]), 11)
    with pytest.raises(UsageError):
        allocate(np.array([5, 5, 5]), np.array([1.0, 1.0, 1.0]), 5)


def _frame(n=300):
    rng = np.random.default_rng(1)
    return pl.DataFrame({
        "unit": [f"T{i:04d}" for i in range(n)],
        "country": ["X"] * n,
        "department": [["North", "South", "East"][i % 3] for i in range(n)],
        "zone": [["urban", "rural"][i % 2] for i in range(n)],
        "registered": rng.integers(50, 300, n),
    })


def test_design_stratified_sample_is_consistent_sampler_per_stratum():
    f = _frame()
    d = make_design(f, 30, "42", ["department"], ["country", "department"])
    assert d.n == 30 and len(set(d.sample)) == 30
    for name, s in d.strata.items():
        dept = name.split(" / ")[1]
        ids = f.filter(pl.col("department") == dept)["unit"].to_list()
        expect = [t.id for t in consistent_sample(ids, "42", s["sample"])]
        got = [u for u, st in zip(d.sample, d.sample_strata) if st == name]
        assert got == expect
    # the whole sample is in national ticket order
    tks = [first_ticket(u, "42") for u in d.sample]
    assert tks == sorted(tks)
    # worked example fields
    fd = d.first_draws[0]
    assert fd["hashed"] == sha256_hex("42") + fd["unit"]
    assert fd["sha256"] == hashlib.sha256(fd["hashed"].encode()).hexdigest()


def test_design_with_attribute_strata_and_frame_hash():
    f = _frame()
    d = make_design(f, 60, 5, ["department", "zone"], ["country", "department"])
    assert set(d.strata) == {f"X / {a} | {z}" for a in ("North", "South", "East") for z in ("urban", "rural")}
    order = f.sort("unit")
    assert d.frame["sha256"] == manifest_hash(order["unit"].to_list(), order["registered"].to_list())
    assert frame_sha256(f["unit"], f["registered"]) == d.frame["sha256"]


def test_design_roundtrip_and_errors(tmp_path):
    f = _frame()
    d = make_design(f, 30, 1, ["department"], ["country", "department"])
    p = tmp_path / "d.json"
    p.write_text(d.to_json(), encoding="utf-8")
    assert Design.load(p).to_json() == d.to_json()
    with pytest.raises(UsageError, match="duplicate"):
        make_design(pl.concat([f, f.head(1)]), 30, 1)
    with pytest.raises(UsageError, match="registered"):
        make_design(f.with_columns(pl.when(pl.col("unit") == "T0003").then(None).otherwise(pl.col("registered")).alias("registered")), 30, 1)
    with pytest.raises(UsageError, match="previous"):
        make_design(f, 30, 1, allocation="neyman")
    with pytest.raises(UsageError, match="no column"):
        make_design(f, 30, 1, ["province"], ["country", "department"])
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid JSON"):
        Design.load(p)


def test_small_strata_are_pooled():
    f = _frame(300).with_columns(pl.when(pl.col("unit") < "T0006").then(pl.lit("Tiny")).otherwise(pl.col("department")).alias("department"))
    d = make_design(f, 30, 3, ["department"], ["country", "department"])
    assert d.collapsed == ["X / Tiny"]
    assert "(other: 1 strata)" in d.strata


def test_reproducible_design_on_the_2019_roll(bolivia):
    runner = CliRunner()
    res = runner.invoke(main, ["pvt", "design", "--roll", str(bolivia / "2019" / "computo_2019-10-25.csv.gz"),
                               "--n", "1500", "--seed", "7", "--strata", "department", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert len(d["sample"]) == 1500 and len(set(d["sample"])) == 1500
    assert sum(s["tables"] for s in d["strata"].values()) == 34555
    assert d["frame"]["units"] == 34555
    digest = hashlib.sha256("".join(u + "\n" for u in d["sample"]).encode()).hexdigest()
    assert digest == EXPECTED_SAMPLE_SHA256
    assert d["first_draws"][0]["unit"] == d["sample"][0]
    assert d["frame"]["sha256"] == "9446095348b3824c2d626969d24bf9d7e088653b79c6249aa22a7b3bc281364c"
    # independently: the audit sampler stratum by stratum picks the same tables
    by = {}
    for u, s in zip(d["sample"], d["sample_strata"]):
        by.setdefault(s, []).append(u)
    assert [u for u, _ in sorted(((u, first_ticket(u, "7")) for u in d["sample"]), key=lambda t: t[1])] == d["sample"]
    from escrutinio.io import read_roll
    roll = read_roll(bolivia / "2019" / "computo_2019-10-25.csv.gz")
    lapaz = roll.filter((pl.col("country") == "Bolivia") & (pl.col("department") == "La Paz"))["unit"].to_list()
    n_lp = d["strata"]["Bolivia / La Paz"]["sample"]
    assert [t.id for t in consistent_sample(lapaz, "7", n_lp)] == by["Bolivia / La Paz"]


from hypothesis import given, settings, strategies as st


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 500), st.floats(0, 1e6, allow_nan=False)), min_size=1, max_size=30),
       st.data())
def test_allocation_property(strata, data):
    sizes = np.array([s for s, _ in strata])
    weights = np.array([w for _, w in strata])
    lo = int(np.minimum(sizes, 2).sum())
    n = data.draw(st.integers(lo, int(sizes.sum())))
    out = allocate(sizes, weights, n)
    assert out.sum() == n
    assert np.all(out <= sizes) and np.all(out >= np.minimum(sizes, 2))


def test_previous_election_margins_and_neyman_on_the_cli(bolivia, tmp_path):
    computo = str(bolivia / "2019" / "computo_2019-10-25.csv.gz")
    runner = CliRunner()
    res = runner.invoke(main, ["pvt", "design", "--roll", computo, "--n", "1500", "--seed", "7", "--strata", "department",
                               "--previous", computo, "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    # the previous election's variance predicts the margin the calibration realises (±1.02 for MAS)
    assert d["expected_moe"]["MAS - IPSP"] == pytest.approx(1.02, abs=0.1)
    assert d["expected_moe"]["lead (MAS - IPSP - CC)"] == pytest.approx(2.07, abs=0.2)
    assert d["expected_moe_bound"] > d["expected_moe"]["MAS - IPSP"]
    res = runner.invoke(main, ["pvt", "design", "--roll", computo, "--n", "1500", "--seed", "7", "--strata", "department",
                               "--allocation", "neyman", "--previous", computo, "--format", "json"])
    assert res.exit_code == 0, res.output
    dn = json.loads(res.output)
    assert dn["allocation"] == "neyman" and dn["n"] == 1500
    assert dn["expected_moe"]["lead (MAS - IPSP - CC)"] <= d["expected_moe"]["lead (MAS - IPSP - CC)"] + 1e-9
    res = runner.invoke(main, ["pvt", "design", "--roll", computo, "--n", "1500", "--seed", "7", "--allocation", "neyman"])
    assert res.exit_code != 0 and "--previous" in res.output


def test_verify_redraws_the_sample(bolivia, tmp_path):
    computo = str(bolivia / "2019" / "computo_2019-10-25.csv.gz")
    runner = CliRunner()
    path = tmp_path / "d.json"
    assert runner.invoke(main, ["pvt", "design", "--roll", computo, "--n", "800", "--seed", "v", "--strata", "department",
                                "-o", str(path)]).exit_code == 0
    res = runner.invoke(main, ["pvt", "verify", "--design", str(path), "--roll", computo])
    assert res.exit_code == 0, res.output
    assert "exactly what the seed and the roll give" in res.output
    # a swapped table is caught
    d = json.loads(path.read_text())
    d["sample"][0] = next(u for u in ["1001", "1002", "1003", "1004"] if u not in d["sample"])
    path.write_text(json.dumps(d), encoding="utf-8")
    res = runner.invoke(main, ["pvt", "verify", "--design", str(path), "--roll", computo, "--format", "json"])
    assert res.exit_code == 1
    out = json.loads(res.output)
    assert not out["ok"] and [c["ok"] for c in out["checks"]] == [True, True, True, False]
