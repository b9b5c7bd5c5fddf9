"""Simulated elections: clean ones (for calibration and placebo) and Klimek-model fraud
injection (for power).

Two clean generators, both fraud-free by construction (every count is a binomial or
multinomial draw; no rounding, no stuffing, no stealing):

* :func:`simulate_like` - "a clean election like this one": keeps every station's
  electorate and draws its rates *around its own observed rates*: turnout
  tau_i ~ Beta(k m_i, k (1 - m_i)) with m_i the observed turnout (clipped to
  [0.01, 0.99]) and k = ``concentration`` (default 400, i.e. sd 0.02 at m = 0.5); the
  valid-vote rate likewise; choice shares ~ Dirichlet(k s_i + 0.5) around the observed
  shares. Then emitted ~ Bin(registered, tau_i), valid ~ Bin(emitted, rate_i), votes ~
  Multinomial(valid, shares_i). It inherits the country's real heterogeneity (regions,
  polarisation), so a *shape* test that fires on it is uninformative for this country.
* :func:`simulate_fair` - the fair part of Klimek et al. (2012): tau_i ~ N(mu_t, sd_t),
  leader share nu_i ~ N(mu_v, sd_v) (truncated), the rest of the valid votes split
  among the other choices by a Dirichlet around fixed proportions; ``registered`` taken
  from a real election (e.g. Bolivia 2019's 34,555 tables) or drawn.

:func:`inject_klimek` adds Klimek et al.'s incremental (probability f_i, x ~ |N(0,
sigma_x)|) and extreme (probability f_e, x ~ 1 - |N(0, sigma_e)|) fraud to a clean
election: round(x * non-voters) ballots are added for the leader and round(x * v_j) votes
are moved from every other choice j to the leader. Integers stay integers; registered is
untouched.

Klimek, Yegorov, Hanel & Thurner (2012), PNAS 109(41):16469-16473.
"""
from __future__ import annotations

import numpy as np

from escrutinio.forensics.core import StationData


def _multinomial(n: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise multinomial draws by conditional binomials (vectorised over stations)."""
    k = p.shape[1]
    out = np.zeros(p.shape, np.int64)
    left = n.astype(np.int64).copy()
    rest = np.ones(len(n))
    for j in range(k - 1):  # loop over choices, not stations
        q = np.clip(p[:, j] / np.maximum(rest, 1e-300), 0, 1)
        out[:, j] = rng.binomial(left, q)
        left -= out[:, j]
        rest -= p[:, j]
    out[:, -1] = left
    return out


def simulate_like(data: StationData, seed=None, concentration: float = 400.0) -> StationData:
    """A clean election with this election's stations, electorates and heterogeneity."""
    rng = np.random.default_rng(seed)
    reg = data.registered
    k = concentration
    m_t = np.clip(data.emitted / np.maximum(reg, 1), 0.01, 0.99)
    m_v = np.clip(data.valid / np.maximum(data.emitted, 1), 0.01, 0.99)
    tau = rng.beta(k * m_t, k * (1 - m_t))
    rate_v = rng.beta(k * m_v, k * (1 - m_v))
    total = data.votes.sum(axis=1, keepdims=True)
    national = data.votes.sum(axis=0) / max(data.votes.sum(), 1)
    shares = np.where(total > 0, data.votes / np.maximum(total, 1), national[None, :])
    g = rng.gamma(k * shares + 0.5)
    shares = g / g.sum(axis=1, keepdims=True)
    emitted = rng.binomial(reg, tau)
    valid = rng.binomial(emitted, rate_v)
    votes = _multinomial(valid, shares, rng)
    return StationData(reg.copy(), emitted, valid, votes, data.choices, units=data.units,
                       source_rows=data.source_rows, groups=dict(data.groups), label=f"clean simulation of {data.label}", share_of=data.share_of, level_order=data.level_order,
                       place_level=data.place_level, area_level=data.area_level)


def simulate_fair(registered, mu_t: float = 0.85, sd_t: float = 0.06, mu_v: float = 0.5, sd_v: float = 0.12,
                  n_choices: int = 5, valid_rate: float = 0.95, seed=None, groups: dict | None = None) -> StationData:
    """A fair election (Klimek et al.'s fair component) with the given electorates."""
    rng = np.random.default_rng(seed)
    reg = np.asarray(registered, np.int64)
    n = len(reg)
    # truncation at 0.01/0.99 rather than 0/1: a point mass at exactly 100 % would be an
    # artefact of the generator, not of counting
    tau = np.clip(rng.normal(mu_t, sd_t, n), 0.01, 0.99)
    nu = np.clip(rng.normal(mu_v, sd_v, n), 0.01, 0.99)
    emitted = rng.binomial(reg, tau)
    valid = rng.binomial(emitted, valid_rate)
    base = np.linspace(2.0, 1.0, n_choices - 1)
    g = rng.gamma(20 * base / base.sum(), size=(n, n_choices - 1))
    others = g / g.sum(axis=1, keepdims=True) * (1 - nu)[:, None]
    votes = _multinomial(valid, np.column_stack([nu, others]), rng)
    choices = tuple(["LEADER"] + [f"P{j}" for j in range(1, n_choices)])
    if groups is None:
        place = (np.arange(n) // 4).astype(str)  # four tables per polling place
        dept = (np.arange(n) * 9 // max(n, 1)).astype(str)
        groups = {"department": dept, "polling_place": place}
    return StationData(reg, emitted, valid, votes, choices, units=np.arange(1, n + 1).astype(str),
                       groups=groups, label="fair simulation")


def inject_klimek(data: StationData, f_i: float, f_e: float, sigma_x: float = 0.25, sigma_e: float = 0.075,
                  seed=None) -> tuple[StationData, np.ndarray]:
    """Return (data with fraud, class per station: 0 clean, 1 incremental, 2 extreme)."""
    rng = np.random.default_rng(seed)
    n = data.n
    u = rng.random(n)
    cls = np.where(u < f_e, 2, np.where(u < f_e + f_i, 1, 0))
    x = np.where(cls == 2, 1 - np.abs(rng.normal(0, sigma_e, n)), np.abs(rng.normal(0, sigma_x, n)))
    x = np.where(cls == 0, 0.0, np.clip(x, 0, 1))
    lead = data.leader_index
    votes = data.votes.copy()
    add = np.rint(x * (data.registered - data.emitted).clip(0)).astype(np.int64)
    steal = np.rint(x[:, None] * votes).astype(np.int64)
    steal[:, lead] = 0
    votes -= steal
    votes[:, lead] += add + steal.sum(axis=1)
    out = StationData(data.registered.copy(), data.emitted + add, data.valid + add, votes, data.choices,
                      units=data.units, source_rows=data.source_rows, groups=dict(data.groups),
                      label=f"{data.label} + Klimek fraud (f_i={f_i}, f_e={f_e})", share_of=data.share_of, level_order=data.level_order,
                       place_level=data.place_level, area_level=data.area_level)
    return out, cls


def inject_round_numbers(data: StationData, fraction: float, seed=None) -> tuple[StationData, np.ndarray]:
    """Written-in results (Kobak et al. 2016's mechanism): in a ``fraction`` of stations the
    turnout and the leader's share are moved to the nearest integer percentage that the
    station's size allows (within +-0.05 points), by changing ballots cast and moving votes
    between the leader and the others. Returns (data, mask of altered stations)."""
    from escrutinio.forensics.integer_percentages import hit_integer_percent

    rng = np.random.default_rng(seed)
    n = data.n
    pick = rng.random(n) < fraction
    reg, emi, val = data.registered.copy(), data.emitted.copy(), data.valid.copy()
    votes = data.votes.copy()
    lead = data.leader_index

    def nearest_hit(k, m):
        best = k.copy()
        found = np.zeros(len(k), bool)
        for off in (0, 1, -1, 2, -2, 3, -3):  # a few candidate counts, vectorised over stations
            cand = np.clip(k + off, 0, m)
            ok = ~found & hit_integer_percent(cand, np.maximum(m, 1))
            best[ok] = cand[ok]
            found |= ok
        return best

    new_emi = nearest_hit(emi, reg)
    delta = np.where(pick, new_emi - emi, 0)
    delta = np.maximum(delta, -(val - votes[:, lead]).clip(0))  # removals come from non-leader ballots
    emi = emi + delta
    val = val + delta
    votes[:, lead] += np.maximum(delta, 0)
    # removals: take from the largest non-leader choice
    other = votes.copy()
    other[:, lead] = -1
    j = other.argmax(axis=1)
    rows = np.flatnonzero(delta < 0)
    votes[rows, j[rows]] = np.maximum(votes[rows, j[rows]] + delta[rows], 0)
    val = votes.sum(axis=1)
    emi = np.maximum(emi, val)
    new_lead = nearest_hit(votes[:, lead], val)
    shift = np.where(pick, new_lead - votes[:, lead], 0)
    j = np.where(votes - np.eye(votes.shape[1], dtype=np.int64)[lead] * 10**12 >= 0, votes, -1).argmax(axis=1)
    room = votes[np.arange(n), j]
    shift = np.minimum(shift, np.where(j == lead, 0, room))
    votes[np.arange(n), lead] += shift
    votes[np.arange(n), j] -= np.where(j == lead, 0, shift)
    out = StationData(reg, emi, votes.sum(axis=1), votes, data.choices, units=data.units, source_rows=data.source_rows,
                      groups=dict(data.groups), label=f"{data.label} + written-in round percentages ({fraction})",
                      share_of=data.share_of, level_order=data.level_order,
                       place_level=data.place_level, area_level=data.area_level)
    return out, pick
