"""The application layer: the orchestration that the CLI, the server and the Python API
share (read, check, tabulate, apply the law, project). Nothing here prints or parses
command lines; nothing here knows about HTTP.

Contract C1: ``read(paths, mapping=None, combine=False, ...) -> Election`` and
``results(election, contest=None, level="country", filters=None, rule=None, roll=None, ...)``
whose ``.to_dict()`` is exactly `escrutinio results --format json`, carrying ``final``
and ``completeness`` (C8).
"""
from escrutinio.app.results import (
    Results,
    check,
    check_output,
    parse_pairs,
    pick_contest,
    read,
    report_html,
    resolve_rule,
    results,
    series_to_tabulate,
    write_atomic,
)

__all__ = ["Results", "check", "check_output", "parse_pairs", "pick_contest", "read", "report_html", "resolve_rule", "results",
           "series_to_tabulate", "write_atomic"]

