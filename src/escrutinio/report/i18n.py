"""The results report's words and numbers in English or Spanish (`report --lang es`).

The report layer is below the server, so it carries its own short catalogue rather than
the pages' gettext files. Sentences that carry figures (the verdict, completeness) are
built here from the verdict's fields, not translated from the English sentence, so the
numbers are the same exact ones in both languages. Numbers follow each language's
conventions (2,889,359 and 47.08% in English; 2.889.359 y 47,08 % in Spanish, as the
dashboard writes them). Text that comes from a source file (place names, a mapping's
notes) is shown as it is.
"""
from __future__ import annotations

import math

LANGS = ("en", "es")

ES: dict[str, str] = {
    "results": "resultados",
    "source": "fuente",
    "exported": "exportado",
    "filter": "filtro",
    "Verdict under {rule}": "Veredicto según {rule}",
    "condition": "condición",
    "value (points)": "valor (puntos)",
    "distance (points)": "distancia (puntos)",
    "margin (votes)": "margen (votos)",
    "votes moved to flip": "votos que invertirían",
    "holds": "se cumple",
    "fails": "no se cumple",
    "clause {n}: {line}": "cláusula {n}: {line}",
    "Margin: votes above (+) or below (−) the line with everything else fixed. Votes moved to flip: the fewest votes "
    "that, moved from the leader to the runner-up (lead lines) or to other parties (share lines), would reverse that "
    "condition. Decisions use exact integer arithmetic.":
        "Margen: votos por encima (+) o por debajo (−) del umbral con todo lo demás fijo. Votos que invertirían: los "
        "menos votos que, pasados del primero al segundo (umbrales de ventaja) o a otros partidos (umbrales de "
        "porcentaje), invertirían esa condición. Las decisiones usan aritmética entera exacta.",
    "Final count": "Cómputo final",
    "Subset": "Subconjunto",
    "Partial count": "Cómputo parcial",
    "National result": "Resultado nacional",
    "votes": "votos",
    "share": "porcentaje",
    "valid": "válidos",
    "blank": "blancos",
    "null": "nulos",
    "emitted": "emitidos",
    "registered": "inscritos",
    "tables": "mesas",
    "of emitted": "de los emitidos",
    "turnout": "participación",
    "Note": "Nota",
    "area (full path)": "área (ruta completa)",
    "By {level}": "Por {level}",
    "elsewhere": "en otros lugares",
    "areas": "áreas",
    "Acta checks": "Controles de las actas",
    "rule": "regla",
    "severity": "gravedad",
    "what it checks": "qué controla",
    "actas failing": "actas que fallan",
    "ballots they hold": "papeletas que contienen",
    "First findings": "Primeros hallazgos",
    "source row": "fila de la fuente",
    "table": "mesa",
    "detail": "detalle",
    "error": "error",
    "warning": "advertencia",
    "info": "información",
    "Map": "Mapa",
    "This source has no coordinates; no map.": "Esta fuente no tiene coordenadas: no hay mapa.",
    "Polling places": "Recintos electorales",
    "leader at the polling place": "primero en el recinto",
    "longitude": "longitud",
    "latitude": "latitud",
    "% of {base} votes": "% de los votos {base}",
    "not published, derived: emitted": "no publicado, calculado: emitidos",
    # geographic levels of the bundled mappings
    "country": "país",
    "department": "departamento",
    "province": "provincia",
    "municipality": "municipio",
    "locality": "localidad",
    "district": "distrito",
    "zone": "zona",
    "place": "recinto",
    "region": "región",
    # what each check rule checks (escrutinio.checks.RULES)
    "the votes per choice add up to the valid votes written on the acta":
        "los votos por opción suman los votos válidos escritos en el acta",
    "valid + blank + null = emitted": "válidos + blancos + nulos = emitidos",
    "ballots emitted do not exceed registered voters": "los votos emitidos no superan a los inscritos",
    "reported valid and emitted match the count system's recomputation (*_SISTEMA)":
        "válidos y emitidos del acta coinciden con el recálculo del sistema de cómputo (*_SISTEMA)",
    "each table code appears once in a snapshot": "cada código de mesa aparece una sola vez en una exportación",
    "no vote count is negative (non-integer values are refused when reading)":
        "ningún conteo de votos es negativo (los valores no enteros se rechazan al leer)",
    "the record was malformed in the source (e.g. an unquoted delimiter) and repaired while reading":
        "el registro estaba mal formado en la fuente (p. ej. un separador sin comillas) y se reparó al leer",
    "a table published in one snapshot is still published in every later one":
        "una mesa publicada en una exportación sigue publicada en todas las posteriores",
    "a table's published numbers do not change between snapshots":
        "los números publicados de una mesa no cambian entre exportaciones",
}


class Text:
    """Words and number formats of one language."""

    def __init__(self, lang: str = "en"):
        if lang not in LANGS:
            raise ValueError(f"report language must be one of {LANGS}, not {lang!r}")
        self.lang = lang
        self.es = lang == "es"

    def __call__(self, english: str, **kw) -> str:
        text = ES.get(english, english) if self.es else english
        return text.format(**kw) if kw else text

    def num(self, v, sign: bool = False) -> str:
        s = f"{int(v):+,}" if sign else f"{int(v):,}"
        return s.replace(",", ".") if self.es else s

    def dec(self, v: float, digits: int = 2, sign: bool = False) -> str:
        s = f"{v:+,.{digits}f}" if sign else f"{v:,.{digits}f}"
        if self.es:
            s = s.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return s

    def pct(self, v: float, digits: int = 2) -> str:
        return f"{self.dec(v, digits)} %" if self.es else f"{self.dec(v, digits)}%"

    def line(self, line: str) -> str:
        """A rule's condition line ("share ≥ 40%", "lead ≥ 10 points")."""
        if not self.es:
            return line
        out = line.replace("share", "porcentaje").replace("lead", "ventaja").replace("points", "puntos")
        return out.replace("%", " %").replace("  %", " %")

    # ------------------------------------------------------------- sentences
    def verdict(self, v, completeness, filters: dict | None) -> str:
        """The verdict's sentence, starting with what it is (final, provisional, subset)."""
        if not self.es:
            return v.explanation
        share = self.pct(100 * v.winner_votes / v.base_votes) if v.base_votes else self.pct(0)
        lead = self.dec(v.lead_points)
        head = self._head(completeness, filters)
        if v.outcome == "no_votes":
            return (head + " " if head else "") + "No hay votos válidos."
        if v.outcome == "tie":
            return ((head + " " if head else "") + f"Empate exacto en el primer puesto con {self.num(v.winner_votes)} "
                    "votos cada uno: se aplica el desempate de la ley.")
        if head:
            would = {"first_round_win": "una victoria en primera vuelta", "runoff": "una segunda vuelta",
                     "winner": "una victoria por mayoría relativa"}[v.outcome]
            tail = "" if completeness is not None and completeness.filtered else \
                " No es el resultado hasta que se computen todas las mesas."
            return (f"{head}: {v.winner} lidera con {share} de los votos válidos, {lead} puntos "
                    f"({self.num(v.lead_votes)} votos) por delante de {v.runner_up}; con estas mesas solamente, "
                    f"{v.rule} daría {would}.{tail}")
        if v.outcome == "first_round_win":
            clause = ""
            if v.deciding_clause is not None:
                lines = [self.line(c.line) for c in v.conditions if c.clause == v.deciding_clause]
                clause = f", según la cláusula {v.deciding_clause + 1} ({' y '.join(lines)}) de {v.rule}"
            return (f"{v.winner} gana en primera vuelta con {share} de los votos válidos y una ventaja de {lead} "
                    f"puntos sobre {v.runner_up}{clause}.")
        if v.outcome == "runoff":
            other = self.pct(100 * v.runner_up_votes / v.base_votes)
            return (f"Segunda vuelta entre {v.winner} ({share}) y {v.runner_up} ({other}): no se cumple ninguna "
                    f"cláusula de primera vuelta de {v.rule}.")
        return (f"{v.winner} gana por mayoría relativa con {share} ({self.num(v.lead_votes)} votos por delante de "
                f"{v.runner_up}).")

    def _head(self, c, filters: dict | None) -> str | None:
        if c is None:
            return None
        if c.filtered:
            what = ", ".join(f"{k}={v}" for k, v in (filters or {}).items())
            return (f"No es un resultado según la ley: solo las mesas donde {what} (la ley se aplica al cómputo "
                    "completo)")
        if c.final:
            return None
        if c.expected_tables is None:
            return (f"Provisional, porcentaje de mesas computadas desconocido ({self.num(c.counted_tables)} mesas; "
                    "sin padrón de mesas esperadas, use --roll ARCHIVO)")
        share = math.floor(1000 * (c.table_share or 0)) / 10  # rounded down, as in English
        return (f"Provisional, {self.pct(share, 1)} de las mesas computadas ({self.num(c.counted_tables)} de "
                f"{self.num(c.expected_tables)})")

    def completeness(self, c) -> tuple[str, str]:
        """(what is counted, how it is measured) for the verdict box."""
        if c.expected_tables is not None:
            if self.es:
                what = (f"{self.num(c.counted_tables)} de {self.num(c.expected_tables)} mesas computadas "
                        f"({self.pct(100 * c.table_share)}), {self.pct(100 * (c.registered_share or 0))} de los inscritos")
            else:
                what = (f"{c.counted_tables:,} of {c.expected_tables:,} tables counted ({100 * c.table_share:.2f}%), "
                        f"{100 * (c.registered_share or 0):.2f}% of registered voters")
        else:
            what = (f"{self.num(c.counted_tables)} mesas computadas; se desconoce cuántas se esperan" if self.es
                    else f"{c.counted_tables:,} tables counted; how many are expected is unknown")
        return what, self.note(c)

    def note(self, c) -> str:
        if not self.es:
            return c.note
        a = c.note_args or {}
        where = f" dentro de {a['filters']}" if a.get("filters") else ""
        if c.note_kind == "roll":
            text = f"medido contra el padrón de mesas{where}"
            if a.get("not_in_roll"):
                text += f"; {self.num(a['not_in_roll'])} mesas computadas no están en el padrón"
            return text
        if c.note_kind == "official":
            return (f"medido contra los totales oficiales: {self.num(a['tables'])} mesas, "
                    f"{self.num(a['registered'])} inscritos ({a['source']})")
        if c.note_kind == "whole_in":
            return f"todas las mesas del cómputo están ({a['source']}), así que también todas las mesas{where}"
        if c.note_kind == "no_roll_filter":
            return ("no se dio un padrón, y las mesas esperadas dentro de un filtro solo se conocen con un padrón "
                    "(--roll ARCHIVO)")
        if c.note_kind == "no_roll":
            return "las mesas esperadas se desconocen sin un padrón de todas las mesas (--roll ARCHIVO)"
        return c.note

    def progress(self, p: dict) -> str:
        if self.es:
            return (f"Avance: {self.num(p['counted_units'])} de {self.num(p['expected_units'])} mesas "
                    f"({self.pct(p['units_pct'])}), que cubren el {self.pct(p['registered_pct'])} de los inscritos.")
        return (f"Progress: {p['counted_units']:,} of {p['expected_units']:,} tables ({p['units_pct']:.2f}%), covering "
                f"{p['registered_pct']:.2f}% of registered voters.")

    def checked(self, units: int, failing: int) -> str:
        if self.es:
            return (f"{self.num(units)} actas controladas; {self.num(failing)} fallan al menos una regla. "
                    "Las actas que fallan se cuentan tal como se publicaron.")
        return (f"{units:,} actas checked; {failing:,} fail at least one rule. "
                "Failing actas are counted as published.")

    def places(self, drawn: int, outlying: int) -> str:
        if self.es:
            return (f"{self.num(drawn)} recintos con coordenadas (tamaño del punto: votos válidos; color: opción "
                    f"primera; {self.num(outlying)} recintos con coordenadas atípicas no se dibujan).")
        return (f"{drawn:,} polling places with coordinates (dot size: valid votes; colour: leading choice; "
                f"{outlying} places with outlying coordinates not drawn).")

    def footer(self, version: str, stamp: str) -> str:
        if self.es:
            return (f"Generado por escrutinio {version} el {stamp}. Los totales son sumas exactas de las actas "
                    "publicadas; las actas que fallan un control se cuentan tal como se publicaron y se listan en la "
                    "sección de controles.")
        return (f"Generated by escrutinio {version} on {stamp}. Totals are exact sums of the published actas; "
                "actas that fail a check are counted as published and listed in the check section.")
