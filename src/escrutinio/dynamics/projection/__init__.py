"""Projection (nowcast) of a final result from a partial count.

One module per part; every name stays importable from here:

* :mod:`.engine`: :func:`project` (checks, the count joined to the roll, the model chosen),
  :func:`arrival_errors` (the arrival-order replay), :func:`project_snapshot`.
* :mod:`.hotdeck`: hierarchical hot-deck imputation with a nested bootstrap and the
  slow-place (completion) adjustment; its docstring states the method.
* :mod:`.stratified`: the multilevel model by stratum (:mod:`escrutinio.dynamics.multilevel`)
  fed from the joined tables.
* :mod:`.result`: :class:`ProjectionResult`, shares, lead, intervals, outcome probabilities,
  their Monte Carlo error and the summaries.
* :mod:`.law`: the presidential rule applied to every simulation with integer arithmetic.
* :mod:`.plumbing`: the roll's hierarchy, choice names, previous-election rates, strata codes
  and the extrapolation measure shared by the models.
"""
from escrutinio.dynamics.projection.engine import arrival_errors, project, project_snapshot  # noqa: F401 (re-exported)
from escrutinio.dynamics.projection.hotdeck import (  # noqa: F401 (re-exported)
    _M1,
    _M2,
    COMPLETION_ALPHA,
    SIZE_BREAKS,
    _build_plan,
    _completion_shift,
    _hotdeck_extrapolation,
    _Plan,
    _prepare_steps,
    _simulate,
    _size_strata,
    _uniform_hash,
    run_hotdeck,
)
from escrutinio.dynamics.projection.law import _law_rule, bolivia_outcomes, rule_outcomes  # noqa: F401 (re-exported)
from escrutinio.dynamics.projection.plumbing import (  # noqa: F401 (re-exported)
    EXTRAPOLATION_K,
    _codes,
    _extrapolation,
    _previous_rates,
    _stratum_codes,
    canonical,
    hierarchy,
    previous_place_rates,
    roll_levels_2020,
)
from escrutinio.dynamics.projection.result import (  # noqa: F401 (re-exported)
    CAVEAT,
    CAVEAT_MULTILEVEL,
    EXTRAPOLATION_WARN,
    FEW_TABLES_SHARE,
    PROBABILITY_CAP,
    SEED_RANGE_10,
    ProjectionResult,
    _bound_error,
    _finish,
    _who_leads,
)
from escrutinio.dynamics.projection.stratified import _multilevel, run_multilevel  # noqa: F401 (re-exported)

__all__ = [
    "CAVEAT", "CAVEAT_MULTILEVEL", "COMPLETION_ALPHA", "EXTRAPOLATION_K", "EXTRAPOLATION_WARN", "FEW_TABLES_SHARE",
    "PROBABILITY_CAP", "SEED_RANGE_10", "SIZE_BREAKS", "ProjectionResult", "arrival_errors", "bolivia_outcomes",
    "canonical", "hierarchy", "previous_place_rates", "project", "project_snapshot", "roll_levels_2020",
    "rule_outcomes", "run_hotdeck", "run_multilevel",
]
