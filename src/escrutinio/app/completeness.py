"""Moved to :mod:`escrutinio.completeness` (the tabulation below this layer uses it);
kept here so that ``escrutinio.app.completeness`` still imports."""
from escrutinio.completeness import OUTCOME_PHRASE, Completeness, measure, prefix, reword, status  # noqa: F401
