"""PVT estimation: the ratio estimator against a hand computation, the batch form against
the single form, missing tables, verdict probabilities and the CLI contract."""
import json
import math

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.errors import UsageError
from escrutinio.law.presidential import decide, preset
from escrutinio.pvt.design import Design, make_design
from escrutinio.pvt.estimate import estimate, ratio_batch, ratio_estimate, verdict_probabilities


def test_ratio_estimator_by_hand():
    # stratum 0: N=10, tables (A,B) = (6,4), (3,7), (5,5); stratum 1: N=4, tables (8,2), (1,1)
    y = np.array([[6, 4], [3, 7], [5, 5], [8, 2], [1, 1]], float)
    x = y.sum(axis=1)
    codes = np.array([0, 0, 0, 1, 1])
    N = np.array([10, 4])
    R, cov, Y, X = ratio_estimate(y, x, codes, N)
    Xh = 10 * 10 + 4 * 6          # N_h * mean valid
    YA = 10 * 14 / 3 + 4 * 4.5    # N_h * mean A
    assert X == pytest.approx(Xh) and Y[0] == pytest.approx(YA)
    r = YA / Xh
    assert R[0] == pytest.approx(r)
    var = 0.0
    for rows, Nh in (([0, 1, 2], 10), ([3, 4], 4)):
        e = [y[i, 0] - r * x[i] for i in rows]
        nh = len(rows)
        s2 = sum((v - sum(e) / nh) ** 2 for v in e) / (nh - 1)
        var += Nh ** 2 * (1 - nh / Nh) * s2 / nh
    assert cov[0, 0] == pytest.approx(var / Xh ** 2)
    # two choices that fill the valid vote: shares sum to 1, covariances are opposite
    assert R.sum() == pytest.approx(1)
    assert cov[0, 1] == pytest.approx(-cov[0, 0])


def test_census_stratum_has_no_variance():
    y = np.array([[6, 4], [3, 7]], float)
    R, cov, _, _ = ratio_estimate(y, y.sum(1), np.array([0, 0]), np.array([2]))
    assert np.allclose(cov, 0)


def test_batch_equals_single():
    rng = np.random.default_rng(0)
    U, H = 2000, 4
    codes = rng.integers(0, H, U)
    x = rng.integers(50, 250, U).astype(float)
    a = rng.binomial(x.astype(int), 0.3 + 0.1 * codes).astype(float)
    N = np.bincount(codes, minlength=H)
    samples = np.stack([np.concatenate([rng.choice(np.flatnonzero(codes == h), 20, replace=False) for h in range(H)])
                        for _ in range(5)])
    Rb, seb = ratio_batch(a, x, codes, N, samples)
    for d in range(5):
        s = samples[d]
        R, cov, _, _ = ratio_estimate(a[s][:, None], x[s], codes[s], N)
        assert Rb[d] == pytest.approx(R[0]) and seb[d] == pytest.approx(math.sqrt(cov[0, 0]))


def test_verdict_probabilities_agree_with_the_law():
    rule = preset("bolivia")
    rng = np.random.default_rng(3)
    votes = rng.integers(0, 1000, (400, 3))
    votes[:, 0] += rng.integers(0, 1500, 400)
    shares = votes / votes.sum(1, keepdims=True)
    for row, s in zip(votes, shares):
        vp = verdict_probabilities(s[None, :], ["A", "B", "C"], rule)
        v = decide(rule, {"A": int(row[0]), "B": int(row[1]), "C": int(row[2])})
        if v.outcome in ("first_round_win", "runoff"):
            assert vp["first_round_win"] == (1.0 if v.outcome == "first_round_win" else 0.0)


def _election(n=600, seed=0):
    rng = np.random.default_rng(seed)
    dept = np.array(["North", "South", "East"])[np.arange(n) % 3]
    reg = rng.integers(100, 300, n)
    em = rng.binomial(reg, 0.85)
    pa = np.where(dept == "North", 0.6, np.where(dept == "South", 0.35, 0.45))
    a = rng.binomial(em, pa * 0.95)
    b = rng.binomial(em - a, 0.8)
    blank = rng.binomial(em - a - b, 0.5)
    null = em - a - b - blank
    return pl.DataFrame({"unit": [f"T{i:04d}" for i in range(n)], "country": "X", "department": dept,
                         "registered": reg, "A": a, "B": b, "blank": blank, "null": null, "emitted": em})


def test_estimate_reports_missing_and_ignores_other_rows():
    f = _election()
    d = make_design(f, 90, "s", ["department"], ["country", "department"])
    full = estimate(d, f, ["A", "B"], preset("bolivia"))
    assert full.reported == 90 and full.missing == 0 and full.ignored_rows == 510
    part = estimate(d, f.filter(~pl.col("unit").is_in(d.sample[:10])), ["A", "B"], preset("bolivia"))
    assert part.reported == 80 and part.missing == 10
    assert sorted(part.missing_units) == sorted(d.sample[:10])
    assert sum(part.missing_by_stratum.values()) == 10
    assert part.sensitivity["shift_points"] is not None and "missing sampled tables" in part.sensitivity["text"]
    out = part.to_dict()
    json.dumps(out, allow_nan=False)  # plain JSON types only (no numpy scalars)
    for c in ("A", "B"):
        assert out["choices"][c]["lo"] < out["choices"][c]["share"] < out["choices"][c]["hi"]
    assert {"point", "lo", "hi"} <= set(out["lead"])
    assert "P(first-round win)" in part.summary()


def test_sensitivity_crossing_point():
    f = _election(900, 2)
    d = make_design(f, 120, "x", ["department"], ["country", "department"])
    drop = d.sample[:30]
    est = estimate(d, f.filter(~pl.col("unit").is_in(drop)), ["A", "B"], preset("bolivia"))
    w = est.sensitivity["missing_weight"]
    share, lead = est.choices[est.lead["between"][0]]["share"], est.lead["point"]
    delta = est.sensitivity["shift_points"]
    # after the shift, the point estimate sits exactly on the deciding line
    s2, l2 = share - w * delta, lead - 2 * w * delta
    assert min(abs(s2 - 50), abs(s2 - 40), abs(l2 - 10)) < 1e-3


def test_estimate_errors():
    f = _election()
    d = make_design(f, 60, "s", ["department"], ["country", "department"])
    with pytest.raises(UsageError, match="none of the"):
        estimate(d, f.with_columns(pl.col("unit") + "x"), ["A", "B"], preset("bolivia"))
    with pytest.raises(UsageError, match="several rows"):
        estimate(d, pl.concat([f, f.filter(pl.col("unit") == d.sample[0])]), ["A", "B"], preset("bolivia"))
    with pytest.raises(UsageError, match="lack columns"):
        estimate(d, f.drop("emitted"), ["A", "B"], preset("bolivia"))


def test_missing_stratum_is_said():
    f = _election()
    d = make_design(f, 60, "s", ["department"], ["country", "department"])
    est = estimate(d, f.filter(pl.col("department") != "East"), ["A", "B"], preset("bolivia"))
    assert est.excluded_strata == ["X / East"]
    assert "not an estimate of the whole count" in " ".join(est.notes)


def test_cli_contract_on_the_2019_count(bolivia, tmp_path):
    computo = str(bolivia / "2019" / "computo_2019-10-25.csv.gz")
    runner = CliRunner()
    out = tmp_path / "design.json"
    res = runner.invoke(main, ["pvt", "design", "--roll", computo, "--n", "1500", "--seed", "7",
                               "--strata", "department", "-o", str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["pvt", "estimate", computo, "--design", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    mas = d["choices"]["MAS - IPSP"]
    assert mas["lo"] < 47.08 < mas["hi"] and d["lead"]["lo"] < 10.56 < d["lead"]["hi"]
    assert d["reported"] == 1500 and d["missing"] == 0
    assert d["rule"].startswith("Bolivia")
    assert 0 <= d["verdict_probabilities"]["first_round_win"] <= 1
    res = runner.invoke(main, ["pvt", "estimate", computo, "--design", str(out)])
    assert res.exit_code == 0 and "PVT estimate from 1,500 of 1,500" in res.output


def test_cli_reports_in_two_files_with_missing_tables(bolivia, tmp_path):
    import gzip

    computo = str(bolivia / "2019" / "computo_2019-10-25.csv.gz")
    runner = CliRunner()
    design = tmp_path / "d.json"
    assert runner.invoke(main, ["pvt", "design", "--roll", computo, "--n", "300", "--seed", "reports",
                                "--strata", "department", "-o", str(design)]).exit_code == 0
    sample = json.loads(design.read_text())["sample"]
    with gzip.open(computo, "rt", encoding="utf-8-sig") as fh:
        header, *lines = fh.read().splitlines()
    rows = {line.split(",", 1)[0]: line for line in lines}
    arrived = sample[:-20]  # the last 20 sampled tables never reported
    for k, part in enumerate((arrived[::2], arrived[1::2])):
        (tmp_path / f"reports_{k}.csv").write_text("\n".join([header, *(rows[u] for u in part)]) + "\n", encoding="utf-8")
    res = runner.invoke(main, ["pvt", "estimate", str(tmp_path / "reports_0.csv"), str(tmp_path / "reports_1.csv"),
                               "--combine", "--design", str(design), "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["reported"] == 280 and d["missing"] == 20 and d["ignored_rows"] == 0
    assert sorted(d["missing_units"]) == sorted(sample[-20:])
    assert d["sensitivity"]["shift_points"] is not None


from hypothesis import HealthCheck, given, settings, strategies as st


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 10_000), st.integers(12, 60), st.integers(0, 8))
def test_estimate_is_finite_and_ordered_on_random_elections(seed, n, dropped):
    f = _election(300, seed)
    d = make_design(f, n, seed, ["department"], ["country", "department"])
    reports = f.filter(~pl.col("unit").is_in(d.sample[:dropped]))
    est = estimate(d, reports, ["A", "B"], preset("bolivia"), draws=500)
    out = json.loads(json.dumps(est.to_dict(), allow_nan=False))
    for c in ("A", "B"):
        assert out["choices"][c]["lo"] <= out["choices"][c]["share"] <= out["choices"][c]["hi"]
    assert out["choices"]["A"]["share"] + out["choices"]["B"]["share"] == pytest.approx(100)
    assert out["reported"] + out["missing"] == n
    p = out["verdict_probabilities"]
    assert p["first_round_win"] + p["runoff"] == pytest.approx(1)
