"""Plot helpers shared by every report section: matplotlib (Agg) rendered to inline SVG,
so a report is one self-contained HTML file."""
from __future__ import annotations

import io


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
