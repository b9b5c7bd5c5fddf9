"""The words the API answers in identifiers (rule ids, field names, area codes, method
names, fixed English notes), said in the page's language.

The API and the command line keep their stable identifiers and English details (scripts
read them); the pages translate them here, through the same catalogues as the templates,
so that a Spanish page never shows ``valid_blank_null_sum_to_emitted: ...``, ``emitted``
or ``ruralaislado``. Anything not recognised is shown as it came, marked ``lang="en"`` by
the templates where that matters.
"""
from __future__ import annotations

import re


class Words:
    """Per-locale translators for the identifiers the API uses (a Jinja global ``words``)."""

    def __init__(self, translations, fmt):
        self._translations = translations
        self.fmt = fmt

    def _(self, message: str, **values) -> str:
        return self._translations.gettext(message) % values

    def ngettext(self, singular: str, plural: str, n: int, **values) -> str:
        return self._translations.ngettext(singular, plural, n) % values

    # --- fields of an acta ------------------------------------------------------------------
    def field(self, name: str | None) -> str:
        _ = self._
        names = {"blank": _("Blank votes"), "null": _("Null votes"), "registered": _("Registered voters"),
                 "emitted": _("Votes cast"), "valid": _("Valid votes"), "valid_reported": _("Valid votes (written)"),
                 "valid_system": _("Valid votes (count system)"), "emitted_system": _("Votes cast (count system)")}
        return names.get(name or "", name or "—")

    # --- the acta checks (escrutinio.checks) ----------------------------------------------------
    def finding(self, line: str) -> str:
        """``rule: detail`` as a sentence in the page's language."""
        _ = self._
        rule, _sep, detail = str(line).partition(": ")
        n = self._numbers(detail)
        if rule == "valid_blank_null_sum_to_emitted" and len(n) >= 5:
            return _("Valid %(valid)s + blank %(blank)s + null %(null)s = %(total)s, but the acta says %(emitted)s votes cast.",
                     valid=n[0], blank=n[1], null=n[2], total=n[3], emitted=n[4])
        if rule == "choices_sum_to_valid" and len(n) >= 2:
            return _("The votes for each choice add up to %(sum)s, but the acta says %(valid)s valid votes.",
                     sum=n[0], valid=n[1])
        if rule == "emitted_within_registered" and len(n) >= 2:
            return _("%(emitted)s votes cast, more than the %(registered)s registered voters.", emitted=n[0], registered=n[1])
        if rule == "non_negative":
            return _("A number is negative: %(fields)s", fields=detail.removeprefix("negative: "))
        if rule == "matches_system_recount":
            return _("The valid votes or the votes cast differ from the count system's recomputation.")
        if rule == "unique_unit":
            return _("The table code appears more than once.")
        return self.rule(rule)

    def rule(self, rule: str) -> str:
        _ = self._
        names = {
            "choices_sum_to_valid": _("The votes for each choice add up to the valid votes written on the acta"),
            "valid_blank_null_sum_to_emitted": _("Valid + blank + null = votes cast"),
            "emitted_within_registered": _("Votes cast do not exceed registered voters"),
            "matches_system_recount": _("Reported valid votes and votes cast match the count system's recomputation"),
            "unique_unit": _("Each table code appears once"),
            "non_negative": _("No vote count is negative"),
            "record_repaired": _("The record was malformed in the source and repaired while reading"),
            "present_in_later_snapshot": _("A table published once is still published later"),
            "unchanged_between_snapshots": _("A table's published numbers do not change between exports"),
        }
        return names.get(rule, _("An acta check failed"))

    def _numbers(self, text: str) -> list[str]:
        return [self.fmt.num(int(x)) for x in re.findall(r"-?\d+", text or "")]

    def level(self, name: str | None) -> str:
        _ = self._
        names = {"country": _("Country"), "department": _("Department"), "province": _("Province"),
                 "municipality": _("Municipality"), "locality": _("Locality"), "district": _("District"),
                 "zone": _("Zone"), "polling_place": _("Polling place"), "place": _("Polling place")}
        return names.get(name or "", name or "—")

    # --- places: area types (escrutinio.dynamics.urban_first) and PVT strata ---------------------
    def area(self, code: str | None) -> str:
        _ = self._
        names = {"metropol": _("metropolitan"), "periurbano": _("peri-urban"), "ruralconect": _("rural, connected"),
                 "ruralaislado": _("rural, isolated"), "urban": _("urban"), "rural": _("rural"), "urbano": _("urban"),
                 "(all)": _("(all)"), "abroad": _("abroad"), "exterior": _("abroad"), "desconocido": _("unknown")}
        return names.get(code or "", code or "—")

    def stratum(self, name: str | None) -> str:
        """A PVT stratum label: a path, optionally ``| area``, or ``(other: K strata)``."""
        if not name:
            return "—"
        m = re.fullmatch(r"\(other: (\d+) strata\)", name)
        if m:
            k = int(m.group(1))
            return self.ngettext("(other: %(num)s stratum)", "(other: %(num)s strata)", k, num=self.fmt.num(k))
        if " | " in name:
            path, area = name.rsplit(" | ", 1)
            return f"{path} | {self.area(area)}"
        return self.area(name)

    # --- methods and notes ---------------------------------------------------------------------
    def method(self, name: str | None) -> str:
        _ = self._
        names = {"macro-kaplan-markov": _("ballot-level comparison risk-limiting audit (MACRO with the Kaplan–Markov risk)"),
                 "macro": _("ballot-level comparison risk-limiting audit (MACRO)"),
                 "kaplan-markov": _("Kaplan–Markov risk measure")}
        return names.get(name or "", name or "")

    def note(self, text: str | None) -> str:
        """Fixed English notes the API sends (the PVT caveat, progress notes)."""
        if not text:
            return ""
        _ = self._
        known = {
            "reported = sampled tables whose watchers' copy is agreed (two matching entries), resolved or released":
                _("Reported: sampled tables whose watchers' copy is agreed (two matching entries), resolved or released."),
            ("A PVT measures the actas of a random sample of tables as the watchers report them. Its interval "
             "covers sampling error only: it assumes the reports are transcribed correctly and that missing "
             "sampled tables resemble the reported ones of their stratum. A difference from the official count "
             "is a discrepancy to explain, not by itself evidence of fraud."):
                _("A PVT measures the actas of a random sample of tables as the watchers report them. Its interval "
                  "covers sampling error only: it assumes the reports are transcribed correctly and that missing "
                  "sampled tables resemble the reported ones of their stratum. A difference from the official count "
                  "is a discrepancy to explain, not by itself evidence of fraud."),
        }
        return known.get(text, text)

    def api_error(self, status: int | None, code: str | None = None) -> str:
        """What to say when an API call the page needs failed: never the API's English."""
        _ = self._
        if code == "contest_required":
            return _("Several contests are loaded: choose one above.")
        if status == 404:
            return _("Nothing to show yet: no official count has been loaded for this contest.")
        if status in (401, 403):
            return _("Your account may not see this.")
        if status == 409:
            return _("Not available yet.")
        if status and 400 <= status < 500:
            return _("The request was not understood; reload the page.")
        return _("The server could not answer; try again in a moment.")

