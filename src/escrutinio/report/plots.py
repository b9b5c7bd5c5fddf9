"""Plot helpers shared by every report section: matplotlib (Agg) rendered to inline SVG,
so a report is one self-contained HTML file."""
from __future__ import annotations

import io

from escrutinio.report.colours import OTHER_COLOUR, choice_colours, declared_colours

__all__ = ["OTHER_COLOUR", "choice_colours", "figure", "svg", "colours"]


def colours(choices, election: str | None = None) -> dict[str, str]:
    """Each choice's colour by its name (the same as on the server's pages and charts)."""
    return choice_colours(sorted(str(c) for c in choices), declared_colours(election))


def figure(width: float = 7.0, height: float = 3.6):
    """A new (figure, axes) pair with the project's style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=96)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def svg(fig) -> str:
    """Render and close a figure, returning an ``<svg>`` element for inline use."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.tight_layout()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]
