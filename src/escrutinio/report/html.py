"""The results report: one self-contained HTML file (inline CSS and SVG, no network)."""
from __future__ import annotations

import html
from datetime import datetime, timezone

import polars as pl

from escrutinio import __version__
from escrutinio.report.i18n import Text
from escrutinio.report.plots import OTHER_COLOUR, colours, figure, svg
from escrutinio.tabulate import Tabulation, by_level

PALETTE = ["#1f5fa6", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6cab", "#6d6875", "#b5838d", "#2e4057", "#c97c5d"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.88rem;margin:.5rem 0} td,th{padding:.25rem .6rem;border-bottom:1px solid #eef;text-align:right}
th{background:#f4f6fa} td:first-child,th:first-child{text-align:left}
.verdict{font-size:1.1rem;padding:.8rem 1rem;border-left:5px solid #1f5fa6;background:#f4f7fc}
.runoff{border-color:#d1495b;background:#fdf3f4} .provisional{border-color:#edae49;background:#fdf8ec} .completeness{font-size:.92rem;margin:.5rem 0 0} .muted{color:#667;font-size:.85rem} .ok{color:#2a7a3a} .fail{color:#b02a37}
code{background:#f3f3f6;padding:0 .2rem}
"""


def esc(x) -> str:
    return html.escape(str(x))


def page(title: str, sections: list[str], subtitle: str = "", tx: Text | None = None) -> str:
    tx = tx or Text()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!doctype html><html lang={tx.lang}><head><meta charset=utf-8><title>{esc(title)}</title>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class=muted>{esc(subtitle)}</p>" + "\n".join(sections) +
        f"<p class=muted>{esc(tx.footer(__version__, stamp))}</p></body></html>"
    )


def table_html(header: list[str], rows: list[list], cls: str = "", left: tuple[int, ...] = (0,)) -> str:
    """A table; columns in ``left`` (text) are left-aligned, the rest (numbers) right."""
    def align(i: int) -> str:
        return " style='text-align:left'" if i in left else ""

    head = "".join(f"<th{align(i)}>{esc(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{align(i)}>{c}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt_int(v) -> str:
    return f"{int(v):,}"


def verdict_section(tab: Tabulation, tx: Text | None = None) -> str:
    tx = tx or Text()
    v = tab.verdict
    if v is None:
        return ""
    cls = "verdict runoff" if v.outcome == "runoff" else "verdict"
    if not tab.final:
        cls += " provisional"
    rows = [[esc(tx("clause {n}: {line}", n=c.clause + 1, line=tx.line(c.line))),
             f"<span class=ok>{tx('holds')}</span>" if c.holds else f"<span class=fail>{tx('fails')}</span>",
             tx.dec(c.value_points), tx.dec(c.distance_points, sign=True),
             tx.num(c.margin_votes, sign=True),
             tx.num(c.votes_to_flip)]
            for c in v.conditions]
    detail = table_html([tx(h) for h in ("condition", "", "value (points)", "distance (points)", "margin (votes)",
                                         "votes moved to flip")], rows) if rows else ""
    sentence = tx.verdict(v, tab.completeness, tab.filters)
    return (f"<h2>{esc(tx('Verdict under {rule}', rule=v.rule))}</h2><div class='{cls}'>{esc(sentence)}"
            f"{completeness_html(tab, tx)}</div>{detail}"
            "<p class=muted>" + esc(tx("Margin: votes above (+) or below (−) the line with everything else fixed. "
                                       "Votes moved to flip: the fewest votes that, moved from the leader to the "
                                       "runner-up (lead lines) or to other parties (share lines), would reverse that "
                                       "condition. Decisions use exact integer arithmetic.")) + "</p>")


def completeness_html(tab: Tabulation, tx: Text | None = None) -> str:
    """What share of the count the verdict rests on (contract C8), inside the verdict box."""
    tx = tx or Text()
    c = tab.completeness
    if c is None:
        return ""
    what, note = tx.completeness(c)
    label = tx("Final count" if tab.final else ("Subset" if c.filtered else "Partial count"))
    return f"<p class=completeness><b>{label}:</b> {esc(what)} <span class=muted>({esc(note)})</span></p>"


def national_section(tab: Tabulation, tx: Text | None = None) -> str:
    tx = tx or Text()
    shares = tab.shares()
    rows = [[esc(c), tx.num(v), tx.pct(shares[c])] for c, v in sorted(tab.choices.items(), key=lambda kv: -kv[1])]
    t, r = tab.totals, tab.rates()

    def rate(key: str, what: str) -> str:
        return f"{tx.pct(r[key])} {tx(what)}" if r[key] is not None else ""

    rows += [[f"<b>{tx('valid')}</b>", tx.num(t["valid"]), ""], [tx("blank"), tx.num(t["blank"]), rate("blank_rate", "of emitted")],
             [tx("null"), tx.num(t["null"]), rate("null_rate", "of emitted")],
             [f"<b>{tx('emitted')}</b>", tx.num(t["emitted"]),
              f"{tx('turnout')} {tx.pct(r['turnout'])}" if r["turnout"] is not None else ""],
             [tx("registered"), tx.num(t["registered"]), ""], [tx("tables"), tx.num(tab.units), ""]]
    prog = f"<p>{esc(tx.progress(tab.progress))}</p>" if tab.progress else ""
    # a note escrutinio has no Spanish for (e.g. a mapping's own words) is marked as English
    notes = "".join(f"<p class=muted>{tx('Note')}: {esc(tx(n))}</p>" if not tx.es or tx(n) != n else
                    f"<p class=muted>{tx('Note')}: <span lang=en>{esc(n)}</span></p>" for n in tab.notes)
    return (f"<h2>{tx('National result')}</h2>{table_html(['', tx('votes'), tx('share')], rows)}{prog}{notes}"
            f"{bar_chart(tab, tx)}")


def bar_chart(tab: Tabulation, tx: Text | None = None) -> str:
    tx = tx or Text()
    shares = sorted(tab.shares().items(), key=lambda kv: kv[1])
    fig, ax = figure(7, 0.35 * len(shares) + 0.8)
    by_name = colours(tab.choices, tab.snapshot.election)
    ax.barh([c for c, _ in shares], [v for _, v in shares], color=[by_name.get(c, OTHER_COLOUR) for c, _ in shares])
    for i, (_, v) in enumerate(shares):
        ax.text(v + 0.3, i, tx.pct(v), va="center", fontsize=8)
    ax.set_xlabel(tx("% of {base} votes", base=tx(tab.share_base)))
    return svg(fig)


def _area_table(rows_df: pl.DataFrame, top: list[str], tx: Text | None = None) -> str:
    tx = tx or Text()
    rows = []
    for r in rows_df.iter_rows(named=True):
        base = r["valid"] or 1
        rows.append([esc(r["path"]), tx.num(r["units"]), tx.num(r["valid"]),
                     *[tx.pct(100 * r[c] / base) for c in top],
                     tx.pct(100 * r['emitted'] / r['registered']) if r["registered"] else "–"])
    return table_html([tx("area (full path)"), tx("tables"), tx("valid"), *top, tx("turnout")], rows)


def department_section(tab: Tabulation, level: str = "department", tx: Text | None = None) -> str:
    """Areas at ``level``; where the count spans several countries (votes abroad), the
    main country's areas come first and the others fold away."""
    snap = tab.snapshot
    if level not in snap.levels:
        return ""
    from escrutinio.tabulate import apply_filters

    frame = apply_filters(snap, tab.filters)
    choices = list(snap.counted_choices)
    top = sorted(choices, key=lambda c: -tab.choices[c])[:4]
    rows_df = by_level(frame, snap, level, choices)
    first = snap.levels[0]
    tx = tx or Text()

    def by(name: str) -> str:
        return esc(tx("By {level}", level=tx(name)))

    if first == level or frame.get_column(first).n_unique() == 1:
        return f"<h2>{by(level)}</h2>" + _area_table(rows_df, top, tx)
    countries = by_level(frame, snap, first, choices).sort("units", descending=True)
    main_country = countries.get_column(first)[0]
    home = rows_df.filter(pl.col(first) == main_country)
    away = rows_df.filter(pl.col(first) != main_country)
    return (f"<h2>{by(first)}</h2>" + _area_table(countries, top, tx) +
            f"<h2>{by(level)} · {esc(main_country)}</h2>" + _area_table(home, top, tx) +
            f"<details><summary>{by(level)} · {tx('elsewhere')} ({tx.num(away.height)} {tx('areas')})</summary>"
            f"{_area_table(away, top, tx)}</details>")


def checks_section(checks, tx: Text | None = None) -> str:
    tx = tx or Text()
    counts = checks.counts()
    rows = [[esc(c["rule"]), esc(tx(c["severity"])), esc(tx(c["description"])), tx.num(c["failing_units"]),
             tx.num(c["ballots"])] for c in counts]
    sample = checks.findings.head(100)
    listing = ""
    detail = (lambda d: f"<span lang=en>{esc(d)}</span>") if tx.es else esc
    if sample.height:
        listing = f"<details><summary>{tx('First findings')}</summary>" + table_html(
            [tx("rule"), tx("source row"), tx("table"), tx("detail")],
            [[esc(r["rule"]), esc(r["source_row"]), esc(r["unit"]), detail(r["detail"])] for r in sample.iter_rows(named=True)],
            left=(0, 2, 3)) + "</details>"
    failing = checks.findings.select(['snapshot', 'unit']).unique().height
    return (f"<h2>{tx('Acta checks')}</h2><p>{esc(tx.checked(checks.units_checked, failing))}</p>" +
            table_html([tx(h) for h in ("rule", "severity", "what it checks", "actas failing", "ballots they hold")],
                       rows, left=(0, 1, 2)) + listing)


def dot_map(tab: Tabulation, tx: Text | None = None) -> str:
    tx = tx or Text()
    snap = tab.snapshot
    if "lat" not in snap.attributes or "lon" not in snap.attributes:
        return f"<h2>{tx('Map')}</h2><p class=muted>{tx('This source has no coordinates; no map.')}</p>"
    from escrutinio.tabulate import apply_filters

    frame = apply_filters(snap, tab.filters).filter(pl.col("lat").is_not_null() & pl.col("lon").is_not_null())
    if frame.height == 0:
        return ""
    first = snap.levels[0] if snap.levels else None
    scope = ""
    if first and frame.get_column(first).n_unique() > 1:
        # votes abroad would squash the map; draw the country with most tables
        main_country = frame.group_by(first).len().sort("len", descending=True).get_column(first)[0]
        frame = frame.filter(pl.col(first) == main_country)
        scope = f" {'en' if tx.es else 'in'} {main_country}"
    choices = list(snap.counted_choices)
    keys = list(snap.levels)
    places = frame.group_by(keys).agg([pl.col("lat").mean(), pl.col("lon").mean(), pl.col("valid").sum(), *[pl.col(c).sum() for c in choices]])
    mat = places.select(choices).to_numpy()
    winner = mat.argmax(axis=1)
    top = sorted(range(len(choices)), key=lambda i: -tab.choices[choices[i]])
    by_name = colours(tab.choices, tab.snapshot.election)
    colour_of = {i: by_name.get(choices[i], OTHER_COLOUR) for i in top}
    fig, ax = figure(7, 7)
    lon, lat, valid = places.get_column("lon").to_numpy(), places.get_column("lat").to_numpy(), places.get_column("valid").to_numpy()
    # Abroad polling places would squash the country into a dot; map the main cluster.
    inside = (abs(lat - float(pl.Series(lat).median())) < 15) & (abs(lon - float(pl.Series(lon).median())) < 15)
    for i in top[:5]:
        sel = (winner == i) & inside
        ax.scatter(lon[sel], lat[sel], s=2 + 40 * valid[sel] / max(valid.max(), 1), c=colour_of[i], alpha=0.6, label=choices[i], linewidths=0, rasterized=True)
    ax.set_aspect("equal")
    ax.legend(markerscale=3, fontsize=8, title=tx("leader at the polling place"))
    ax.set_xlabel(tx("longitude"))
    ax.set_ylabel(tx("latitude"))
    return (f"<h2>{tx('Polling places')}{esc(scope)}</h2><p class=muted>"
            f"{esc(tx.places(int(inside.sum()), int((~inside).sum())))}</p>" + svg(fig))


def results_report(tab: Tabulation, checks, election, lang: str = "en") -> str:
    """The report in English (``lang="en"``) or Spanish (``"es"``)."""
    tx = Text(lang)
    snap = tab.snapshot
    subtitle = f"{snap.contest} · {tx('source')} {snap.source}" + (f" · {tx('exported')} {snap.exported_at}" if snap.exported_at else "")
    if tab.filters:
        subtitle += f" · {tx('filter')} " + ", ".join(f"{k}={v}" for k, v in tab.filters.items())
    sections = [verdict_section(tab, tx), national_section(tab, tx), department_section(tab, tx=tx),
                checks_section(checks, tx), dot_map(tab, tx)]
    return page(f"{snap.election}: {tx('results')}", sections, subtitle, tx)
