import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from escrutinio.observers import double_entry as de

CHOICES = ("A", "B")
check = de.copy_checker(CHOICES)


def vals(a, b, blank=0, null=0, registered=10, emitted=None):
    return {"A": a, "B": b, "blank": blank, "null": null, "registered": registered,
            "emitted": a + b + blank + null if emitted is None else emitted}


def test_happy_path_and_refusals():
    acta, e1, replay = de.submit(None, "u1", "P", typist=1, client_id="c1", values=vals(3, 4), entry_id=1, check=check)
    assert acta.state == "first_entered" and not replay and not acta.counted
    again, same, replay = de.submit(acta, "u1", "P", 1, "c1", vals(3, 4), 99, check)
    assert replay and same.entry_id == 1 and again is acta
    with pytest.raises(de.ClientIdReused):
        de.submit(acta, "u1", "P", 1, "c1", vals(3, 5), 2, check)
    with pytest.raises(de.SameTypist):
        de.submit(acta, "u1", "P", 1, "c2", vals(3, 4), 2, check)
    agreed, _, _ = de.submit(acta, "u1", "P", 2, "c2", vals(3, 4), 2, check)
    assert agreed.state == "agreed" and agreed.counted and agreed.final == vals(3, 4)
    with pytest.raises(de.WrongState):
        de.submit(agreed, "u1", "P", 3, "c3", vals(3, 4), 3, check)


def test_different_resolved_and_quarantine():
    acta, _, _ = de.submit(None, "u", "P", 1, "a", vals(3, 4), 1, check)
    diff, _, _ = de.submit(acta, "u", "P", 2, "b", vals(3, 5), 2, check)
    assert diff.state == "different" and diff.final is None
    assert de.resolve(diff, 9, vals(3, 5), check).state == "resolved"
    bad = de.resolve(diff, 9, vals(3, 5, registered=2), check)
    assert bad.state == "quarantined" and not bad.counted
    assert any(f.startswith("emitted_within_registered") for f in bad.findings)
    released = de.release(bad, 9, "the acta itself says so")
    assert released.state == "released" and released.counted and released.findings
    acta, _, _ = de.submit(None, "v", "P", 1, "c", vals(3, 4, emitted=99), 3, check)
    q, _, _ = de.submit(acta, "v", "P", 2, "d", vals(3, 4, emitted=99), 4, check)
    assert q.state == "quarantined"


def test_values_are_validated():
    assert de.validate_values(vals(1, 2), CHOICES) == vals(1, 2)
    for bad in ({**vals(1, 2), "C": 1}, {"A": 1}, {**vals(1, 2), "A": 1.0}, {**vals(1, 2), "A": True},
                {**vals(1, 2), "A": -1}, {**vals(1, 2), "A": "1"}, [1, 2]):
        with pytest.raises(de.InvalidValues):
            de.validate_values(bad, CHOICES)


small = st.integers(0, 3)
values_st = st.builds(lambda a, b, n, r: vals(a, b, null=n, registered=r), small, small, st.integers(0, 1), st.sampled_from([3, 10]))


class DoubleEntryMachine(RuleBasedStateMachine):
    """Random interleavings of submissions, replays, resolutions and releases on a few
    actas by a few typists: no sequence reaches an invalid state or loses an entry."""

    def __init__(self):
        super().__init__()
        self.actas: dict[str, de.Acta] = {}
        self.next_id = 1
        self.accepted: dict[str, tuple] = {}

    @rule(unit=st.sampled_from(["u1", "u2", "u3"]), typist=st.integers(1, 3), values=values_st,
          client=st.integers(0, 12))
    def submit(self, unit, typist, values, client):
        cid = f"c{client}"
        key = (unit, cid)  # the domain sees one acta; the store makes client ids global
        before = self.actas.get(unit)
        try:
            acta, entry, replay = de.submit(before, unit, "P", typist, cid, values, self.next_id, check)
        except de.SameTypist:
            assert before is not None and before.state == "first_entered" and before.first.typist == typist
            return
        except de.WrongState:
            assert before is not None and before.state != "first_entered"
            return
        except de.ClientIdReused:
            assert key in self.accepted and self.accepted[key] != (typist, values)
            return
        if replay:
            assert acta is before and self.accepted[key] == (typist, values)
            return
        assert key not in self.accepted
        self.accepted[key] = (typist, values)
        self.next_id += 1
        self.actas[unit] = acta

    @rule(unit=st.sampled_from(["u1", "u2", "u3"]), values=values_st)
    def resolve(self, unit, values):
        acta = self.actas.get(unit)
        if acta is None:
            return
        try:
            self.actas[unit] = de.resolve(acta, 100, values, check)
        except de.WrongState:
            assert acta.state not in ("different", "quarantined")

    @rule(unit=st.sampled_from(["u1", "u2", "u3"]))
    def release(self, unit):
        acta = self.actas.get(unit)
        if acta is None:
            return
        try:
            self.actas[unit] = de.release(acta, 100)
        except de.WrongState:
            assert acta.state != "quarantined"

    @invariant()
    def valid(self):
        for acta in self.actas.values():
            assert de.invariant_violations(acta) == []
            for e in acta.entries():
                assert self.accepted[(acta.unit, e.client_id)] == (e.typist, dict(e.values))


TestDoubleEntryMachine = DoubleEntryMachine.TestCase
TestDoubleEntryMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
