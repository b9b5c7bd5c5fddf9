"""Plain-text and HTML renderings shared by the CLI and notebooks (no counting here)."""
from __future__ import annotations

from escrutinio.notebook import _cell, frame_html  # noqa: F401  (moved down: checks uses it)


def rows_table(t) -> str:
    """Per-area rows of a tabulation: the four leading choices' shares."""
    choices = sorted(t.choices, key=lambda c: -t.choices[c])[:4]
    head = f"  {'area':<40} {'tables':>7} {'valid':>11} " + " ".join(f"{c[:10]:>10}" for c in choices)
    lines = [head]
    for r in t.rows.iter_rows(named=True):
        base = r[t.share_base] or 1
        lines.append(f"  {r['path'][:40]:<40} {r['units']:>7,} {r['valid']:>11,} " +
                     " ".join(f"{100 * r[c] / base:>9.2f}%" for c in choices))
    return "\n".join(lines)


def results_html(res) -> str:
    import html  # notebooks only: not on every command's start-up

    t = res.latest
    verdict = html.escape(t.verdict.explanation) if t.verdict else ""
    c = t.completeness
    comp = ""
    if c is not None:
        comp = (f"{c.counted_tables:,} of {c.expected_tables:,} tables ({100 * c.table_share:.2f}%)"
                if c.expected_tables else f"{c.counted_tables:,} tables; completeness unknown")
    shares = t.shares()
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:,}</td><td>{shares[k]:.2f}%</td></tr>"
                   for k, v in sorted(t.choices.items(), key=lambda kv: -kv[1]))
    return (f"<div><b>{html.escape(t.snapshot.election)} · {html.escape(t.snapshot.contest)} · "
            f"{html.escape(t.snapshot.name)}</b><p>{'final' if t.final else 'not final'}: {html.escape(comp)}</p>"
            f"<p>{verdict}</p><table><thead><tr><th>choice</th><th>votes</th><th>share</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")
