"""Small HTML views of Polars frames for notebook reprs (``_repr_html_``), at the bottom
of the layers so that the check reports and the application layer both use them."""
from __future__ import annotations


def frame_html(frame, limit: int = 20) -> str:
    """A Polars frame as a small HTML table (notebook reprs)."""
    import html  # notebooks only: not on every command's start-up

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in frame.head(limit).iter_rows())
    more = f"<p><small>{frame.height - limit:,} more rows</small></p>" if frame.height > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _cell(v) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
