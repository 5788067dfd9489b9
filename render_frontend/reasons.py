"""Why chunks failed, as `render status`, `render wait --json` and `render log` show it.

The daemon writes `failed/<chunk>.info.reason` (the last meaningful error line of the run, see
renderd/failreason.py, or what stopped it before it ran); Spool.failed_reason reads it like
every spool file (a regular file, bounded).  Shown here as one line, and made visible where it
is printed (terminal.py): the file is anyone's to forge.
"""

from __future__ import annotations

from collections.abc import Iterable

from renderd.spool import Spool

MAX_REASON = 2000  # characters shown of one reason


def failed_reasons(spool: Spool, chunks: Iterable[str]) -> dict[str, str]:
    """chunk -> its reason's first line ('' when there is none or it cannot be read)."""
    return {chunk: read_reason(spool, chunk) for chunk in chunks}


def read_reason(spool: Spool, chunk: str) -> str:
    text = spool.failed_reason(chunk)
    return text.splitlines()[0][:MAX_REASON] if text else ""
