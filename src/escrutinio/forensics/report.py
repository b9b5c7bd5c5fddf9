"""HTML section for the forensics battery: fingerprint, distributions, digit charts,
tests table with adjusted p-values and placebo verdicts, and the outlier list with a
link from every flag to the table's own row (anchor ``#acta-<unit>``)."""
from __future__ import annotations

import html

import numpy as np

from escrutinio.forensics.battery import BatteryResult, in_family
from escrutinio.forensics.digits import BENFORD2


def _plots(result: BatteryResult) -> dict[str, str]:
    from escrutinio.report.plots import figure, svg

    out = {}
    fp = np.asarray(result.fingerprint, float)
    if fp.size:
        fig, ax = figure(5.2, 4.4)
        im = ax.imshow(np.log1p(fp.T), origin="lower", extent=(0, 100, 0, 100), aspect="auto", cmap="viridis")
        ax.set_xlabel("turnout (%)")
        ax.set_ylabel(f"{result.distributions.get('leader', 'leader')} share of valid votes (%)")
        ax.set_title("Election fingerprint (log(1 + tables))")
        fig.colorbar(im, ax=ax)
        out["fingerprint"] = svg(fig)
    if result.klimek is not None and result.klimek.model_histogram:
        fig, ax = figure(5.2, 4.4)
        m = np.asarray(result.klimek.model_histogram, float)
        im = ax.imshow(np.log1p(m.T), origin="lower", extent=(0, 100, 0, 100), aspect="auto", cmap="viridis")
        ax.set_xlabel("turnout (%)")
        ax.set_ylabel("leader share (%)")
        ax.set_title(f"Klimek model at f_i={result.klimek.f_i:.2f}, f_e={result.klimek.f_e:.3f}")
        fig.colorbar(im, ax=ax)
        out["klimek"] = svg(fig)
    for key, label in (("turnout", "turnout (%)"), ("leader_share", "leader share of valid votes (%)")):
        h = result.distributions.get(key)
        if h:
            fig, ax = figure(6, 2.8)
            ax.bar(np.arange(100) + 0.5, h, width=1.0, color="#4a6fa5")
            ax.set_xlabel(label)
            ax.set_ylabel("tables (1-point bins)")
            out[key] = svg(fig)
    d2 = result.digit_counts.get("2bl_mean", {}).get("digits")
    if d2:
        fig, ax = figure(4.5, 2.8)
        f = np.asarray(d2, float) / max(sum(d2), 1)
        ax.bar(np.arange(10), f, color="#4a6fa5", label="observed")
        ax.plot(np.arange(10), BENFORD2, "o-", color="#c0392b", label="Benford 2nd digit")
        ax.set_xlabel("second digit")
        ax.legend(frameon=False, fontsize=8)
        out["2bl"] = svg(fig)
    dl = result.digit_counts.get("last_digit_distribution", {})
    if dl.get("digits"):
        fig, ax = figure(4.5, 2.8)
        f = np.asarray(dl["digits"], float) / max(sum(dl["digits"]), 1)
        ax.bar(np.arange(10), f, color="#4a6fa5", label="observed")
        ax.axhline(0.1, color="#c0392b", label="uniform")
        if dl.get("simulated_digit_p"):
            ax.plot(np.arange(10), dl["simulated_digit_p"], "s--", color="#27ae60", label="simulated null")
        ax.set_xlabel("last digit")
        ax.legend(frameon=False, fontsize=8)
        out["last"] = svg(fig)
    return out


def _fmt(x, nd=3):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}g}"
    return html.escape(str(x))


def _p(p) -> str:
    from escrutinio.forensics.core import fmt_p

    return "–" if p is None else html.escape(fmt_p(p))


def html_section(result: BatteryResult, max_outliers: int = 500, plots: bool = True) -> str:
    """One self-contained ``<section>`` (inline SVG)."""
    e = html.escape
    figs = _plots(result) if plots else {}
    parts = [f"<section class='forensics'><h2>Forensics: {e(result.label)}</h2>",
             f"<p><strong>Read this first.</strong> {e(result.caveat)}</p>",
             f"<p>{result.n_units:,} tables. Share-based tests use tables with at least "
             f"{result.filter['min_registered']} registered voters, turnout and leader share at most "
             f"{result.filter['max_turnout']:.0%} / {result.filter['max_share']:.0%} (Kobak et al. 2016); "
             "exclusions are listed per test.</p>"]
    if "fingerprint" in figs:
        parts.append("<h3>Fingerprint</h3><div class='figs'>" + figs["fingerprint"] + figs.get("klimek", "") + "</div>")
    if result.klimek is not None:
        parts.append(f"<p>{e(result.klimek.summary())}</p>")
    if "turnout" in figs:
        parts.append("<h3>Distributions</h3>" + figs["turnout"] + figs.get("leader_share", ""))
    if "2bl" in figs or "last" in figs:
        parts.append("<h3>Digits</h3><div class='figs'>" + figs.get("2bl", "") + figs.get("last", "") + "</div>")
    parts.append("<h3>Tests</h3><table><thead><tr><th>test</th><th>scope</th><th>statistic</th><th>p</th>"
                 "<th>p (Holm)</th><th>p (BH)</th><th>null</th><th>units</th><th>placebo</th><th>caveat</th>"
                 "</tr></thead><tbody>")
    for t in result.tests:
        fired = t.details.get("uninformative")
        flag = (t.p_adjusted is not None and t.p_adjusted < result.alpha)
        placebo = ("fires on placebo (" + ", ".join(fired) + "): uninformative here") if fired else ""
        fam = "" if in_family(t) else " (descriptive, not in family)"
        parts.append(
            f"<tr class='{'flag' if flag else ''}'><td>{e(t.name)}</td><td>{e(t.scope)}</td><td>{_fmt(t.statistic, 5)}</td>"
            f"<td>{_p(t.p_value)}</td><td>{_p(t.p_adjusted)}</td><td>{_p(t.p_adjusted_bh)}</td>"
            f"<td>{e(t.null)}{e(fam)}</td><td>{t.n_units:,}</td><td>{e(placebo)}</td><td>{e(t.caveat)}</td></tr>")
    parts.append("</tbody></table><p>p &lt; 0.001 is written so; – marks a descriptive test, outside the "
                 "multiple-testing family (never adjusted); shaded rows have a Holm-adjusted p below "
                 f"{result.alpha:g}.</p>")
    for r in (result.integer_percentages, result.coarse_spikes):
        if r is None:
            continue
        parts.append(f"<h3>{e(r.method.capitalize())}</h3><table><tr><th></th><th>observed</th><th>expected</th>"
                     "<th>excess</th><th>sd</th><th>p</th></tr>")
        for key in ("turnout", "leader", "either"):
            s = getattr(r, key)
            parts.append(f"<tr><td>{key}</td><td>{s.observed:,}</td><td>{s.expected:,.1f}</td><td>{s.excess:+,.1f}</td>"
                         f"<td>{s.sd:.1f}</td><td>{_p(s.p_value)}</td></tr>")
        parts.append(f"</table><p>{e(r.direction())} {e(r.caveat)} Null: {e(r.null)}; {r.draws} Monte-Carlo draws.</p>")
    if result.by is not None:
        parts.append(f"<p>{e(result.areas_line())}</p>")
    if result.placebo:
        parts.append("<h3>Placebo</h3><ul>")
        for name, info in result.placebo.items():
            parts.append(f"<li>{e(name)} ({e(info.get('kind', ''))}): tests firing: "
                         f"{e(', '.join(info.get('fired', [])) or 'none')}</li>")
        parts.append("</ul>")
    outs = result.outliers[:max_outliers]
    parts.append(f"<h3>Outliers ({len(result.outliers):,} flags{'; first %d shown' % max_outliers if len(result.outliers) > max_outliers else ''})</h3>"
                 "<p>Each flag is a reason to look at that acta, not a finding of fraud.</p>"
                 + (f"<p>{e(result.outlier_note)}</p>" if result.outlier_note else "")
                 + "<table><tr><th>table</th><th>reason</th><th>source row</th></tr>")
    for o in outs:
        parts.append(f"<tr><td><a href='#acta-{e(o['unit'])}'>{e(o['unit'])}</a></td><td>{e(o['reason'])}</td>"
                     f"<td>{_fmt(o.get('source_row'))}</td></tr>")
    parts.append("</table><h3>Flagged tables</h3><table><tr><th>table</th><th>registered</th><th>emitted</th>"
                 "<th>valid</th><th>turnout</th><th>leader share</th><th>place</th></tr>")
    seen = set()
    for o in outs:
        if o["unit"] in seen:
            continue
        seen.add(o["unit"])
        place = o.get("polling_place") or o.get("place_id") or ""
        parts.append(f"<tr id='acta-{e(o['unit'])}'><td>{e(o['unit'])}</td><td>{o['registered']}</td>"
                     f"<td>{o['emitted']}</td><td>{o['valid']}</td><td>{_fmt(o['turnout'])}</td>"
                     f"<td>{_fmt(o['leader_share'])}</td><td>{e(str(place))}</td></tr>")
    parts.append("</table></section>")
    return "\n".join(parts)


def html_page(result: BatteryResult) -> str:
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;font-size:12px}"
             "td,th{border:1px solid #ccc;padding:2px 5px;vertical-align:top}tr.flag{background:#fde2e1}"
             ".figs{display:flex;flex-wrap:wrap;gap:8px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Forensics {html.escape(result.label)}</title>"
            f"<style>{style}</style></head><body>{html_section(result)}</body></html>")
