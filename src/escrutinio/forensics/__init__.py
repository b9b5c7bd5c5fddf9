"""Election forensics: statistical tests on table-level results, with correct nulls,
multiple-testing control and placebo elections. See docs/forensics.md.

Anomalies are not fraud: every result carries its null, its p-value or interval and a
plain-language caveat."""
from escrutinio.forensics.battery import BatteryResult, run_battery
from escrutinio.forensics.core import StationData, StationFilter, TestResult, from_arrays, from_snapshot
from escrutinio.forensics.digits import digit_tests
from escrutinio.forensics.distributions import distribution_tests
from escrutinio.forensics.fingerprint import KlimekFit, fingerprint, fit_klimek
from escrutinio.forensics.integer_percentages import coarse_spikes, integer_percentages, round_number_tests
from escrutinio.forensics.multiple_testing import benjamini_hochberg, holm
from escrutinio.forensics.outliers import find_outliers
from escrutinio.forensics.placebo import calibration, placebo_reference, placebo_simulated, power
from escrutinio.forensics.simulate import inject_klimek, simulate_fair, simulate_like

__all__ = [
    "BatteryResult", "KlimekFit", "StationData", "StationFilter", "TestResult", "benjamini_hochberg", "calibration",
    "coarse_spikes", "digit_tests", "distribution_tests", "find_outliers", "fingerprint", "fit_klimek", "from_arrays",
    "from_snapshot", "holm", "inject_klimek", "integer_percentages", "placebo_reference", "placebo_simulated", "power",
    "round_number_tests", "run_battery", "simulate_fair", "simulate_like",
]
