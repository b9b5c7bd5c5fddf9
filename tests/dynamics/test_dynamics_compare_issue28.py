"""compare: the two leading choices by default, names as spelt, an unknown --focus and
no shared place are errors (issue 28)."""
from __future__ import annotations

import polars as pl
import pytest

from escrutinio.dynamics.compare import compare
from escrutinio.errors import UsageError
from escrutinio.model import Snapshot

CHOICES = ("Z Party", "MAS - IPSP", "Small", "CC")


def _snap(places, votes, label):
    rows = []
    for i, (p, v) in enumerate(zip(places, votes)):
        rows.append({"unit": f"{label}{i}", "place_id": p, "department": "D1" if i % 2 else "D2",
                     "registered": 1000, "blank": 5, "null": 5, "emitted": 10 + sum(v), **dict(zip(CHOICES, v))})
    frame = pl.DataFrame(rows).with_columns([pl.col(c).cast(pl.Int64) for c in (*CHOICES, "registered", "blank", "null", "emitted")])
    return Snapshot(election=label, contest="P", frame=frame, levels=("department",), choices=CHOICES,
                    label=label)


VOTES = [(10, 300, 5, 200), (20, 350, 1, 250), (5, 280, 3, 300), (15, 310, 2, 190)]


def test_default_focus_is_the_two_leading_with_their_names():
    r = compare(_snap(["a", "b", "c", "d"], VOTES, "then"), _snap(["a", "b", "c", "d"], VOTES, "now"))
    assert r.choices[:2] == ["MASIPSP", "CC"]
    assert r.names["MASIPSP"] == "MAS - IPSP"
    text = r.summary()
    assert "MAS - IPSP, CC" in text and "MASIPSP" not in text
    assert "Z Party then" not in text
    assert r.focus(["z party"]) == ["ZPARTY"]
    assert "MAS - IPSP_swing" in r.to_frame().columns


def test_unknown_focus_is_an_error():
    r = compare(_snap(["a", "b"], VOTES[:2], "then"), _snap(["a", "b"], VOTES[:2], "now"))
    with pytest.raises(UsageError, match="--focus 'NOPE': no such choice in both elections; choices: MAS - IPSP, CC"):
        r.summary(["NOPE"])


def test_no_shared_place_is_an_error():
    with pytest.raises(UsageError, match="share no polling place"):
        compare(_snap(["a", "b"], VOTES[:2], "then"), _snap(["x", "y"], VOTES[:2], "now"))


def test_counted_lead_says_who_leads():
    from escrutinio.dynamics.projection import _who_leads

    assert _who_leads("MAS_IPSP", "CC", -21.7) == "CC leads MAS_IPSP by 21.70 points"
    assert _who_leads("MAS_IPSP", "CC", 7.87) == "MAS_IPSP leads CC by 7.87 points"
    assert "tied" in _who_leads("A", "B", 0.001)
