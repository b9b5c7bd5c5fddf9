"""How many simulations, when the caller does not say (issue 25, "Seed stability").

With ``simulations=None`` the projection runs a pilot of PILOT_SIMULATIONS, reads the Monte
Carlo standard error its bounds state (``monte_carlo.max_bound_se``: result._conditional or
result._bound_error), and, if ten seeds would move a bound by more than SEED_RANGE_TARGET,
runs again with the same seed and as many simulations as that error asks, at most
MAX_SIMULATIONS. An explicit number of simulations is kept exactly.

The rule: a bound's error falls as 1 / sqrt(simulations), and ten seeds move it over about
3.08 of its standard errors (SEED_RANGE_10), so a range of 0.05 needs
S = S_pilot (SAFETY x 3.08 x se_pilot / 0.05)^2. SAFETY = 1.5 on the standard error (2.25
on the simulations) stands for either of two known gaps, not both: the stated errors of two
tail bounds with --places and 2019 are about 1.5 times too small (docs/dynamics.md, "Seed
stability"), and the range of ten seeds exceeds its mean 3.08 sd in half the runs (its 95th
percentile is 4.47 sd, 1.45 times the mean). It is a stated constant, not fitted.

The pilot's draws are not pooled with the second run's: the fit draws its bootstrap
replicates once per run, as many as the simulations, so two runs do not share a fit. The
pilot is the price of the rule (PILOT_SIMULATIONS / S of the second run's cost).
"""
from __future__ import annotations

import math
import time
from typing import Callable

from escrutinio.dynamics.projection.result import SEED_RANGE_10, ProjectionResult

PILOT_SIMULATIONS = 2000
MAX_SIMULATIONS = 64_000
SEED_RANGE_TARGET = 0.05  # points: the largest move of any bound over seeds 0-9
SAFETY = 1.5  # on the stated standard error (see the module's docstring)


def simulations_needed(max_bound_se: float, simulations: int, *, target: float | None = None,
                       safety: float | None = None) -> int:
    """Simulations for ten seeds to move no bound by more than ``target``, from a run's
    largest stated standard error at ``simulations`` (rounded up to a thousand; the run's
    own number when it is enough)."""
    target = SEED_RANGE_TARGET if target is None else target
    safety = SAFETY if safety is None else safety
    if not max_bound_se > 0 or not math.isfinite(max_bound_se):
        return simulations
    need = simulations * (safety * SEED_RANGE_10 * max_bound_se / target) ** 2
    if need <= simulations:  # enough already: the run is kept (run_auto)
        return simulations
    return int(math.ceil(need / 1000.0) * 1000)


def run_auto(run: Callable[[int], ProjectionResult], *, pilot: int | None = None,
             cap: int | None = None) -> ProjectionResult:
    """``run(S)`` with the simulations the pilot's stated error asks for (module docstring);
    the result's ``monte_carlo["auto"]`` and a note say how many, why and at what cost."""
    pilot = PILOT_SIMULATIONS if pilot is None else pilot
    cap = MAX_SIMULATIONS if cap is None else cap
    t0, c0 = time.perf_counter(), time.process_time()
    first = run(pilot)
    pilot_wall, pilot_cpu = time.perf_counter() - t0, time.process_time() - c0
    mc0 = first.monte_carlo or {}
    se0 = float(mc0.get("max_bound_se") or 0.0)
    needed = simulations_needed(se0, pilot)
    capped = needed > cap
    chosen = min(needed, cap) if needed > pilot else pilot
    if chosen == pilot:
        result, wall, cpu = first, 0.0, 0.0
    else:
        t1, c1 = time.perf_counter(), time.process_time()
        result = run(chosen)
        wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    se = float((result.monte_carlo or {}).get("max_bound_se") or 0.0)
    info = {
        "rule": (f"a pilot of {pilot:,} simulations; S = {pilot:,} x ({SAFETY:g} x {SEED_RANGE_10} x pilot's largest "
                 f"bound se / {SEED_RANGE_TARGET:g})^2 for a range of {SEED_RANGE_TARGET:g} over ten seeds, "
                 f"rounded up to a thousand, at most {cap:,}"),
        "pilot_simulations": pilot, "pilot_max_bound_se": se0, "needed": needed, "safety": SAFETY,
        "target_range": SEED_RANGE_TARGET, "cap": cap, "capped": capped, "simulations": chosen,
        "expected_range_over_10_seeds_with_safety": SAFETY * SEED_RANGE_10 * se,
        "pilot_seconds": {"wall": round(pilot_wall, 2), "cpu": round(pilot_cpu, 2)},
        "final_seconds": {"wall": round(wall, 2), "cpu": round(cpu, 2)},
    }
    result.monte_carlo = {**(result.monte_carlo or {}), "auto": info}
    result.notes.append(auto_text(info))
    return result


def auto_text(info: dict) -> str:
    """The automatic simulations in one sentence: how many, why, what they cost, and
    plainly when the cap kept the range above the target."""
    cost = (f"pilot {info['pilot_seconds']['wall']:.1f} s"
            + (f", then {info['final_seconds']['wall']:.1f} s wall ({info['final_seconds']['cpu']:.1f} s CPU)"
               if info["simulations"] != info["pilot_simulations"] else ""))
    head = (f"simulations chosen automatically: {info['simulations']:,} (a pilot of {info['pilot_simulations']:,} "
            f"stated a largest bound error of {info['pilot_max_bound_se']:.3f} points; ten seeds within "
            f"{info['target_range']:g} need {info['needed']:,} with a safety factor of {info['safety']:g}; {cost})")
    if info["capped"]:
        head += (f". THE CAP OF {info['cap']:,} BINDS: at {info['simulations']:,} simulations another seed may still "
                 f"move a bound by up to about {info['expected_range_over_10_seeds_with_safety']:.2f} points over ten "
                 f"seeds (with the safety factor), more than {info['target_range']:g}; give --simulations "
                 f"{info['needed']:,} to reach it")
    return head
