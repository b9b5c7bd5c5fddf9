"""MACRO against a published multi-candidate batch example (issue 14, item 9).

Lindeman (2010), "A Kaplan-Markov auditing example using 2008 California data": CA-CD3,
four candidates, 42 precincts drawn with replacement (tests/audit/data/README.md). The
paper's MACRO Kaplan-Markov P-value is 0.098616 (U = 20.47). Taking one P-value per
assertion and reporting the largest gives 0.09828 instead: it lets a batch's
understatement for one pair hide an overstatement for another. ``status`` must use the
per-batch worst taint, as MACRO does.

Lungren's margin over Durston is the paper's 17,453 votes. Over Tuma and Padilla the
margins are not printed; 148,100 and 141,930 votes are inferred from the paper's own
per-batch taints (batches 06009520, 060678057620 and 0606733224 pin them within 0.3%), and
every published taint is reproduced to its six decimals.
"""
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from escrutinio.audit import assertions as A
from escrutinio.audit import kaplan_markov as km
from escrutinio.audit import workflow
from escrutinio.workspace import Workspace

DATA = Path(__file__).parent / "data" / "ca_cd3_2008_lindeman.csv"
CHOICES = ["Lungren", "Durston", "Tuma", "Padilla"]
MARGINS = {"Durston": 17_453, "Tuma": 148_100, "Padilla": 141_930}
U_PUBLISHED = 20.47
P_PUBLISHED = 0.098616


def model_and_draws():
    f = pl.read_csv(DATA, schema_overrides={"precinct": pl.Utf8})
    asr = [A.pairwise("Lungren", loser) for loser in MARGINS]
    votes = f.select(CHOICES).to_numpy().astype(np.float64)
    slots = f["ballots_cast"].to_numpy().astype(np.float64)
    reported = np.column_stack([a.batch_totals(votes, CHOICES, slots) for a in asr])
    # pairwise assorter units: a margin of M votes is M/2
    margins = np.array([MARGINS[l] / 2 for l in MARGINS], dtype=np.float64)
    bounds = (reported / margins).max(axis=1)
    # the 732 batches never drawn enter only through U: one pseudo-batch carries their bound
    rest = U_PUBLISHED - bounds.sum()
    model = km.BatchModel(
        ids=[*f["precinct"].to_list(), "(other batches)"], assertions=asr,
        reported=np.vstack([reported, np.zeros((1, len(asr)))]), slots=np.append(slots, 0.0),
        margins=margins, bounds=np.append(bounds, rest))
    rows = np.repeat(np.arange(f.height), f["times_drawn"].to_numpy())
    audit = f.select([f"audit_{c}" for c in CHOICES]).to_numpy().astype(np.float64)
    actual = np.column_stack([a.batch_totals(audit, CHOICES, slots) for a in asr])[rows]
    return f, model, rows, actual


def test_per_batch_taints_match_the_paper():
    f, model, rows, actual = model_and_draws()
    first = np.unique(rows, return_index=True)[1]
    t = km.macro_taints(model, rows[first], actual[first])
    published = f["published_taint"].to_numpy()
    assert np.abs(t - published).max() <= 5e-7, list(zip(f["precinct"], t.round(7), published))


def test_macro_p_value_reproduces_the_paper():
    _, model, rows, actual = model_and_draws()
    assert model.total_bound == pytest.approx(U_PUBLISHED)
    p = km.macro_risk(km.macro_taints(model, rows, actual), model.total_bound)
    assert p == pytest.approx(P_PUBLISHED, abs=2e-6)
    # the per-assertion shortcut is anti-conservative here: 0.09828 < 0.09862
    per_assertion = km.km_risk(km.taints(model, rows, actual), model.total_bound)
    assert per_assertion.max() == pytest.approx(0.09828, abs=1e-5)
    assert per_assertion.max() < p


def test_status_is_macro_on_a_multi_candidate_batch_audit(tmp_path):
    """``status`` end to end on a small three-choice audit whose one discrepant table
    overstates one pair and understates another: the assertion-wise P-values would each
    look smaller than the MACRO one that status reports."""
    results = tmp_path / "r.csv"
    n = 60
    lines = ["unit,region,registered,A,B,C,blank,null"]
    for i in range(n):
        lines.append(f"T{i:03d},R,500,250,150,80,5,5")
    results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text('name = "m"\n[columns]\nunit = "unit"\nregistered = "registered"\nblank = "blank"\n'
                       'null = "null"\n[levels]\nregion = "region"\n[choices]\ncolumns = ["A", "B", "C"]\n',
                       encoding="utf-8")
    with Workspace(str(tmp_path / "ws.duckdb")) as ws:
        workflow.plan(ws, results, mapping=str(mapping), risk_limit=0.1, assertion_kind="plurality")
        d = workflow.draw(ws, "default", seed="12345", n=5)
        counts = ["unit,A,B,C"]
        for k, u in enumerate(dict.fromkeys(x["id"] for x in d["draws"])):
            # the first drawn table overstates A's margin over B and understates it over C;
            # the second does the reverse
            counts.append({0: f"{u},251,152,77", 1: f"{u},249,148,82"}.get(k, f"{u},250,150,80"))
        assert len(counts) >= 3
        c = tmp_path / "counts.csv"
        c.write_text("\n".join(counts) + "\n", encoding="utf-8")
        workflow.record(ws, "default", c)
        s = workflow.status(ws, "default")
        state = ws.get("audit", "default")
    model = workflow.Audit(state).model()
    idx = model.index()
    used = [x["id"] for x in d["draws"]]
    rows = np.array([idx[u] for u in used])
    hand = {r.split(",")[0]: [float(v) for v in r.split(",")[1:]] for r in counts[1:]}
    votes = np.array([hand[u] for u in used])
    actual = np.column_stack([a.batch_totals(votes, ["A", "B", "C"], model.slots[rows]) for a in model.assertions])
    expected = km.macro_risk(km.macro_taints(model, rows, actual), model.total_bound)
    assert s.risk == pytest.approx(expected)
    assert all(a["risk"] == pytest.approx(expected) for a in s.assertions)
    assert max(a["risk_assertion"] for a in s.assertions) < s.risk
    assert s.to_dict()["risk_method"].startswith("MACRO")
