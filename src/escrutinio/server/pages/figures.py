"""What the results page shows, computed from the API's JSON: pure functions, no HTTP.

Kept apart from the router so that each figure (completeness, verdict distances, the
lead-against-counted chart with its projection fan, the dot map) can be tested on plain
dictionaries. The SVG geometry is plain arithmetic on coordinates: no tiles, no fonts,
nothing fetched, so the page works on a closed network.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from escrutinio.app.projection_inputs import REMOTENESS_COVARIATE
from escrutinio.report.colours import OTHER_COLOUR, PALETTE, choice_colours, declared_colours  # noqa: F401 (re-exported)


def ranked_choices(result: dict) -> list[str]:
    choices = result.get("choices") or {}
    return sorted(choices, key=lambda c: (-int(choices[c] or 0), c))


def colours(result: dict) -> dict[str, str]:
    """Each choice's colour by its name (escrutinio.report.colours), never by rank, so that
    colours do not swap when the lead changes; declared colours win."""
    declared = {**declared_colours(result.get("election")), **(result.get("colours") or {})}
    return choice_colours(sorted(result.get("choices") or {}), declared)


def completeness(result: dict) -> dict:
    """Contract C8's completeness block; derived from the older `progress` block when the
    results JSON does not carry it yet. `final` is never guessed true without a roll."""
    comp = result.get("completeness")
    if isinstance(comp, dict) and comp.get("tables"):
        tables = comp["tables"]
        registered = comp.get("registered") or {}
        out = {
            "counted": tables.get("counted"),
            "expected": tables.get("expected"),
            "share": tables.get("share"),
            "registered_counted": registered.get("counted"),
            "registered_expected": registered.get("expected"),
            "registered_share": registered.get("share"),
            "note": comp.get("note") or "",
            "note_kind": comp.get("note_kind") or "",
            "note_args": comp.get("note_args") or {},
        }
    else:
        progress = result.get("progress") or {}
        expected = progress.get("expected_units")
        out = {
            "counted": progress.get("counted_units", result.get("units")),
            "expected": expected,
            "share": (progress["units_pct"] / 100.0) if progress.get("units_pct") is not None else None,
            "registered_counted": progress.get("registered_covered"),
            "registered_expected": progress.get("registered_expected"),
            "registered_share": (progress["registered_pct"] / 100.0) if progress.get("registered_pct") is not None else None,
            "note": "" if expected else "no roll of expected tables: completeness unknown",
            "note_kind": "" if expected else "no_roll",
            "note_args": {},
        }
    if "final" in result:
        out["final"] = bool(result["final"])
    else:
        out["final"] = out["share"] is not None and out["share"] >= 1.0
    out["known"] = out["share"] is not None
    # Shown rounded DOWN to 0.1 point, as the command line does (escrutinio.completeness), so that a
    # count one table short never reads "100.0 %"; from the integers when they are known.
    out["points_down"] = _down(out["counted"], out["expected"], out["share"])
    out["registered_points_down"] = _down(out["registered_counted"], out["registered_expected"], out["registered_share"])
    return out


def _down(part, whole, share) -> float | None:
    if isinstance(part, int) and isinstance(whole, int) and whole > 0:
        return (1000 * part // whole) / 10
    if share is None:
        return None
    return math.floor(1000 * float(share) + 1e-9) / 10


@dataclass
class Condition:
    name: str
    op: str | None
    line: str
    holds: bool
    value_points: float | None
    threshold_points: float | None
    distance_points: float | None
    margin_votes: int | None
    votes_to_flip: int | None


def conditions(result: dict) -> list[Condition]:
    verdict = result.get("verdict") or {}
    out = []
    for c in verdict.get("conditions") or []:
        line = c.get("line", "")
        match = re.match(r"^\w+ ([<>=≤≥]+) ", line)
        out.append(Condition(c.get("name", ""), match.group(1) if match else None, line, bool(c.get("holds")), c.get("value_points"), c.get("threshold_points"),
                             c.get("distance_points"), c.get("margin_votes"), c.get("votes_to_flip")))
    return out


def lead_threshold(result: dict) -> float | None:
    """The lead (in points) the rule asks for, if it has one (Bolivia: 10)."""
    for c in (result.get("verdict") or {}).get("conditions") or []:
        if c.get("name") == "lead" and c.get("threshold_points") is not None:
            return float(c["threshold_points"])
    return None


def lead_points(result: dict) -> float | None:
    verdict = result.get("verdict") or {}
    if verdict.get("lead_points") is not None:
        return float(verdict["lead_points"])
    ranked = ranked_choices(result)
    shares = result.get("shares") or {}
    if len(ranked) >= 2 and ranked[0] in shares and ranked[1] in shares:
        return float(shares[ranked[0]]) - float(shares[ranked[1]])
    return None


@dataclass
class Chart:
    """Lead of the leader over the runner-up (points) against the share of tables counted."""
    width: int = 640
    height: int = 300
    left: int = 56
    right: int = 30
    top: int = 16
    bottom: int = 44
    y_min: float = 0.0
    y_max: float = 1.0
    points: list = field(default_factory=list)     # (x, y, label, counted_pct, lead)
    fan: list | None = None                       # polygon points
    fan_line: tuple | None = None
    threshold_y: float | None = None
    threshold_neg_y: float | None = None           # the same lead for the second, when the chart goes below zero
    threshold: float | None = None
    projection_pair: list | None = None            # the projection's own leader and runner-up
    y_ticks: list = field(default_factory=list)    # (y, value)
    x_ticks: list = field(default_factory=list)    # (x, pct)
    projection: dict | None = None

    def x(self, pct: float) -> float:
        return self.left + (self.width - self.left - self.right) * max(0.0, min(100.0, pct)) / 100.0

    def y(self, value: float) -> float:
        span = self.y_max - self.y_min or 1.0
        return self.top + (self.height - self.top - self.bottom) * (self.y_max - value) / span


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    first = math.ceil(lo / step) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 and len(ticks) < 20:
        ticks.append(round(t, 10))
        t += step
    return ticks


def extrapolation(projection: dict | None) -> dict | None:
    """What the projection says of uncounted voters in strata with few counted tables
    (issue 15): shares in percent, the area types where most of them are, and whether the
    model is the multilevel one (strata widen) or the hot deck (municipalities, borrowed
    donors). None when every uncounted voter is in a well-counted stratum."""
    ext = (projection or {}).get("extrapolation") or {}
    few = ext.get("share_few")
    if projection is None or projection.get("status") not in (None, "ok") or not few:
        return None
    areas = sorted(((name, 100 * float(v.get("share_few") or 0)) for name, v in (ext.get("by") or {}).items()
                    if (v.get("share_few") or 0) >= 0.5), key=lambda x: -x[1])
    ml = projection.get("multilevel") or {}
    return {"few": 100 * float(few), "none": 100 * float(ext.get("share_none") or 0), "k": int(ext.get("k") or 0),
            "areas": areas, "multilevel": bool(ml),
            # the places' coordinates say how remote each uncounted place is
            "remoteness": f"log {REMOTENESS_COVARIATE}" in (ml.get("covariates") or [])}


def _lead_between(projection: dict | None, pair) -> tuple[dict | None, list | None]:
    """The projection's lead interval as a lead of ``pair[0]`` over ``pair[1]`` (the pair
    the chart's points measure), and the projection's own pair. When the count is led by
    one choice and the projection by the other (Bolivia 2020: CC ahead in the cities
    counted first, MAS projected to win), the projection's lead is negated, so that the
    fan and the points measure the same thing. None when the projection's two leading
    choices are not the chart's two."""
    p = projection or {}
    lead = p.get("lead_points") or p.get("lead")
    if not isinstance(lead, dict) or lead.get("lo") is None or lead.get("hi") is None:
        return None, None
    between = list(lead.get("between") or p.get("lead_pair") or [])
    out = {"point": lead.get("point"), "lo": float(lead["lo"]), "hi": float(lead["hi"]), "flipped": False}
    if not pair or not between or between == list(pair):
        return out, between or None
    if between == list(pair)[::-1]:
        point = lead.get("point")
        return {"point": -float(point) if point is not None else None, "lo": -float(lead["hi"]),
                "hi": -float(lead["lo"]), "flipped": True}, between
    return None, between


def lead_chart(series: list[dict], projection: dict | None, threshold: float | None,
               pair: list | tuple | None = None) -> Chart | None:
    """series: [{"counted_pct", "lead", "label"}] in counting order, the lead of ``pair[0]``
    over ``pair[1]``; projection: the projection JSON (lead lo/hi at 100 % counted) or None."""
    pts = [s for s in series if s.get("counted_pct") is not None and s.get("lead") is not None]
    if not pts:
        return None
    chart = Chart(threshold=threshold)
    values = [float(s["lead"]) for s in pts]
    lead, between = _lead_between(projection, pair)
    chart.projection_pair = between
    if lead is not None:
        values += [lead["lo"], lead["hi"]]
        chart.projection = lead
    if threshold is not None:
        values.append(threshold)
        # the rule's lead counts for either side: a lead below zero is the second's
        if min(values) < 0:
            values.append(-threshold)
    lo, hi = min(values), max(values)
    pad = max(0.5, 0.15 * (hi - lo))
    chart.y_min, chart.y_max = math.floor(lo - pad), math.ceil(hi + pad)
    chart.y_ticks = [(chart.y(v), v) for v in _nice_ticks(chart.y_min, chart.y_max)]
    chart.x_ticks = [(chart.x(p), p) for p in (0, 25, 50, 75, 100)]
    for s in pts:
        chart.points.append((round(chart.x(s["counted_pct"]), 1), round(chart.y(float(s["lead"])), 1), s.get("label", ""),
                             s["counted_pct"], float(s["lead"])))
    if threshold is not None:
        chart.threshold_y = round(chart.y(threshold), 1)
        if min(values) < 0:
            chart.threshold_neg_y = round(chart.y(-threshold), 1)
    last = next((s for s in pts if s.get("latest")), pts[-1])   # the projection is made from the latest snapshot
    if chart.projection is not None and last["counted_pct"] < 100:
        x0, y0 = chart.x(last["counted_pct"]), chart.y(float(last["lead"]))
        x1 = chart.x(100)
        chart.fan = [(round(x0, 1), round(y0, 1)), (round(x1, 1), round(chart.y(chart.projection["hi"]), 1)),
                     (round(x1, 1), round(chart.y(chart.projection["lo"]), 1))]
        if chart.projection.get("point") is not None:
            chart.fan_line = (round(x0, 1), round(y0, 1), round(x1, 1), round(chart.y(float(chart.projection["point"])), 1))
    return chart


@dataclass
class DotMap:
    width: int = 560
    height: int = 560
    dots: list = field(default_factory=list)       # (cx, cy, colour or None, title)
    outside: int = 0
    without_coordinates: int = 0
    counted: int = 0
    uncounted: int = 0
    legend: list = field(default_factory=list)     # (choice, colour, places)

    def paths(self) -> list[tuple[str | None, str]]:
        """One SVG path per colour (None = uncounted), each dot a zero-length round-capped
        segment: a fifth of the bytes of one <circle> per place, for thousands of places."""
        groups: dict[str | None, list[str]] = {}
        for cx, cy, colour, _title, _leader in self.dots:
            groups.setdefault(colour, []).append(f"M{cx} {cy}h0")
        ordered = sorted(groups.items(), key=lambda kv: kv[0] is not None)
        return [(colour, "".join(segments)) for colour, segments in ordered]


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = q * (len(sorted_values) - 1)
    lo = math.floor(i)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (i - lo)


def dot_map(places: list[dict], palette: dict[str, str], width: int = 560) -> DotMap:
    """Equirectangular projection scaled by cos(latitude) about the bulk of the places.

    The frame covers the central 98 % of places in each coordinate, padded; the few
    outside it (voting abroad, a mistyped coordinate) are counted and said, not drawn
    off-scale, so that one embassy does not shrink a country to a dot."""
    out = DotMap(width=width, height=width)
    located = []
    for p in places:
        lat, lon = p.get("lat"), p.get("lon")
        if p.get("counted"):
            out.counted += 1
        else:
            out.uncounted += 1
        if lat is None or lon is None or not (-90 <= float(lat) <= 90) or not (-180 <= float(lon) <= 180):
            out.without_coordinates += 1
            continue
        located.append((float(lat), float(lon), p))
    if not located:
        return out
    # The frame is set by the home country's places (the top level with most places) when
    # paths are known, so that voting abroad does not shrink the country to a corner.
    tops: dict[str, int] = {}
    for _, _, p in located:
        top = (p.get("path") or "").split(" / ")[0]
        tops[top] = tops.get(top, 0) + 1
    home = max(tops, key=lambda k: tops[k]) if len(tops) > 1 else None
    framing = [v for v in located if home is None or (v[2].get("path") or "").split(" / ")[0] == home]
    lats = sorted(v[0] for v in framing)
    lons = sorted(v[1] for v in framing)
    lat_lo, lat_hi = _quantile(lats, 0.005), _quantile(lats, 0.995)
    lon_lo, lon_hi = _quantile(lons, 0.005), _quantile(lons, 0.995)
    pad_lat = max(0.05, 0.08 * (lat_hi - lat_lo))
    pad_lon = max(0.05, 0.08 * (lon_hi - lon_lo))
    lat_lo, lat_hi, lon_lo, lon_hi = lat_lo - pad_lat, lat_hi + pad_lat, lon_lo - pad_lon, lon_hi + pad_lon
    k = math.cos(math.radians((lat_lo + lat_hi) / 2))
    span_x, span_y = (lon_hi - lon_lo) * k, (lat_hi - lat_lo)
    scale = (width - 20) / max(span_x, span_y, 1e-9)
    out.width = int(round(span_x * scale + 20))
    out.height = int(round(span_y * scale + 20))
    counts: dict[str, int] = {}
    # Uncounted places first, so that counted dots are drawn on top of them.
    for lat, lon, p in sorted(located, key=lambda v: bool(v[2].get("counted"))):
        if not (lat_lo <= lat <= lat_hi and lon_lo <= lon <= lon_hi):
            out.outside += 1
            continue
        cx = 10 + (lon - lon_lo) * k * scale
        cy = 10 + (lat_hi - lat) * scale
        leader = p.get("leader") if p.get("counted") else None
        colour = palette.get(leader, OTHER_COLOUR) if leader else None
        if leader:
            counts[leader] = counts.get(leader, 0) + 1
        out.dots.append((round(cx, 1), round(cy, 1), colour, p.get("name") or p.get("place") or "", leader))
    out.legend = [(c, palette.get(c, OTHER_COLOUR), n) for c, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return out


def split_areas(rows: list[dict]) -> tuple[list[dict], list[dict], str | None]:
    """Areas of the country with most tables first, the rest (voting abroad) apart.

    Area paths start with the top level ("Bolivia / Beni", "Argentina / Salta"); when the
    top level holds several values, the one with most tables is home."""
    if not rows:
        return [], [], None
    tops: dict[str, int] = {}
    for r in rows:
        top = (r.get("path") or "").split(" / ")[0]
        tops[top] = tops.get(top, 0) + int(r.get("units") or 0)
    if len(tops) < 2:
        return list(rows), [], None
    home = max(tops, key=lambda k: tops[k])
    inside = [r for r in rows if (r.get("path") or "").split(" / ")[0] == home]
    abroad = [r for r in rows if (r.get("path") or "").split(" / ")[0] != home]
    return inside, abroad, home


def share_interval(lo, hi) -> tuple[float | None, float | None]:
    """A share's interval as shown: a normal interval can reach below 0 % or above 100 %
    for a small party or a thin sample; no share can, so it is cut at the bounds (the JSON
    keeps the estimator's own numbers)."""
    lo = None if lo is None else min(100.0, max(0.0, float(lo)))
    hi = None if hi is None else min(100.0, max(0.0, float(hi)))
    return lo, hi


def pvt_outcomes(estimate: dict | None) -> list[dict]:
    """The PVT's outcome probabilities (``verdict_probabilities``) as rows to show:
    [{"kind": "first_round_win" | "runoff" | "winner", "choice", "p"}]; a first-round win
    per choice where the estimate says who (chances under 0.05 % left out)."""
    vp = (estimate or {}).get("verdict_probabilities") or {}
    out = []
    by = vp.get("first_round_win_by")
    if isinstance(by, dict) and by:
        out += sorted(({"kind": "first_round_win", "choice": c, "p": float(p)} for c, p in by.items()
                       if p is not None and float(p) >= 0.0005), key=lambda r: -r["p"])
    elif vp.get("first_round_win") is not None:
        out.append({"kind": "first_round_win", "choice": None, "p": float(vp["first_round_win"])})
    if vp.get("runoff") is not None:
        out.append({"kind": "runoff", "choice": None, "p": float(vp["runoff"])})
    winner = vp.get("winner")
    if isinstance(winner, dict):
        out += sorted(({"kind": "winner", "choice": c, "p": float(p)} for c, p in winner.items()
                       if p is not None and float(p) >= 0.0005), key=lambda r: -r["p"])
    return out


def copies_comparison(both: dict | None, palette: dict[str, str]) -> dict | None:
    """Official count against the watchers' counted copies (``/results?source=both``), on
    the same actas: per choice the official share on those actas, the copies' share and
    the difference in points, with the votes. None when no copy is counted yet."""
    if not isinstance(both, dict):
        return None
    same, cop = both.get("official_same_units") or {}, both.get("copies") or {}
    if not cop.get("choices") or not int(cop.get("units") or 0):
        return None
    so, sc = same.get("shares") or {}, cop.get("shares") or {}
    vo, vc = same.get("choices") or {}, cop.get("choices") or {}
    order = sorted(set(vo) | set(vc), key=lambda c: (-int(vo.get(c) or 0), c))
    rows = [{"choice": c, "colour": palette.get(c, OTHER_COLOUR), "official": vo.get(c), "copies": vc.get(c),
             "official_share": so.get(c), "copies_share": sc.get(c),
             "difference": (None if so.get(c) is None or sc.get(c) is None else float(sc[c]) - float(so[c])),
             "votes_difference": (None if vo.get(c) is None or vc.get(c) is None else int(vc[c]) - int(vo[c]))}
            for c in order]
    return {"units": int(cop.get("units") or 0), "official_units": int((both.get("official") or {}).get("units") or 0),
            "rows": rows}
