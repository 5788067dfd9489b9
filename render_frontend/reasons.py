"""Why chunks failed, as `render status`, `render wait --json` and `render tail` show it.

The daemon writes `failed/<chunk>.info.reason` (one line: the last meaningful error line of
the run, see renderd/failreason.py, or what stopped it before it ran).  The file is anyone's
to forge, so it is read like every spool file: a regular file, bounded, one line, made
visible where it is printed (terminal.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from renderd.spool import Spool

MAX_REASON = 2000


def failed_reasons(spool: Spool, chunks: Iterable[str]) -> dict[str, str]:
    """chunk -> its reason's first line ('' when there is none or it cannot be read)."""
    out: dict[str, str] = {}
    for chunk in chunks:
        out[chunk] = read_reason(spool, chunk)
    return out


def read_reason(spool: Spool, chunk: str) -> str:
    path = spool.root / "failed" / f"{chunk}.info.reason"
    try:
        raw = spool.io.read(path, MAX_REASON)
    except (OSError, ValueError):
        return ""
    return raw.decode("utf-8", errors="replace").strip().splitlines()[0] if raw.strip() else ""
