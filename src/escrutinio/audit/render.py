"""Rendering an audit's report (:func:`escrutinio.audit.workflow.report`): Markdown, with
an optional inline SVG of the measured risk after each counted draw."""
from __future__ import annotations


def risk_plot_svg(rep: dict) -> str:
    """Inline SVG: the largest risk over assertions after each counted draw."""
    from escrutinio.report.plots import figure, svg

    s = rep["status"]
    fig, ax = figure()
    y = s["risk_by_draw"]
    ax.plot(range(1, len(y) + 1), y, color="black", lw=1.2, label="MACRO risk (worst taint over assertions)")
    ax.axhline(s["risk_limit"], color="firebrick", ls="--", lw=1, label=f"risk limit {s['risk_limit']:g}")
    ax.set_yscale("log")
    ax.set_xlabel("draws counted")
    ax.set_ylabel("measured risk (Kaplan-Markov)")
    ax.legend(frameon=False)
    return svg(fig)


def report_markdown(rep: dict, plot: bool = False) -> str:
    s = rep["status"]
    lines = [f"# Audit {rep['name']}: {rep['election']} / {rep['contest']}", "",
             f"Method: {rep['method']}; risk limit {rep['risk_limit']:g}.",
             f"Results file SHA-256: `{rep['results']['sha256']}`.",
             f"Manifest (unit,ballots lines) SHA-256: `{rep['manifest']['units_sha256']}`.",
             f"Seed: `{rep['seed']}`.", "", "## Assertions", ""]
    lines += [f"- {a['name']}: risk {x['risk']:.4g}, {'confirmed' if x['confirmed'] else 'not confirmed'}"
              for a, x in zip(rep["assertions"], s["assertions"])]
    lines += ["", "## Draws", "", "| draw | table | counter | u |", "|---:|---|---:|---|"]
    lines += [f"| {d['draw']} | {d['id']} | {d['counter']} | {d['value']} |" for d in rep["draws"]]
    lines += ["", f"Decision: **{s['decision']}**. {s['note']}",
              f"Tables with discrepancies: {s['discrepancies']}; transcription discrepancies: "
              f"{s['transcription_discrepancies']}.", "", rep["caveat"], ""]
    if plot and s["risk_by_draw"]:
        lines += ["## Risk by draw", "", risk_plot_svg(rep), ""]
    return "\n".join(lines)
