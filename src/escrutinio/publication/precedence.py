"""Which official snapshot is in force for a contest (contract C3).

Exports of a count reach a server out of order: the 19:40 TREP after the final count,
or the 08:18 export after the 12:38 one. The snapshot in force is therefore the one
*exported* last, not the one loaded last; the order of loading breaks ties only.

- A snapshot with an export time outranks every snapshot without one: an undated file
  cannot be shown to be later than a dated one.
- Among snapshots with equal (or no) export times, the one announced later wins, as
  before export times were compared.

The server's pages and the log's verifier (``publication.totals``) both use this one
rule, so the totals anyone recomputes from the published log are the ones served.
"""
from __future__ import annotations

from datetime import datetime, timezone


def _instant(exported_at: str | None) -> datetime | None:
    if not exported_at or not isinstance(exported_at, str):
        return None
    try:
        t = datetime.fromisoformat(exported_at)
    except ValueError:
        return None
    # naive times are the count's own clock; an aware one is compared on that clock too
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def precedence(exported_at: str | None, order: int) -> tuple:
    """A sort key: the snapshot with the greatest key is in force. ``order`` is the
    snapshot's id or its place in the log."""
    t = _instant(exported_at)
    return (t is not None, t or datetime.min, order)
