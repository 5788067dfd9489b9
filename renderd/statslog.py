"""Each daemon's statistics, appended to its own file in the spool: stats/<daemon>.jsonl.

One line (renderd.format.stats) per chunk run that ended — done, or a failed attempt — taken
from the daemon's own `chunk-finished` / `chunk-failed` events, so the history of which host
rendered what, how fast and how often it failed outlives the jobs: `render clean` and
`render remove` never touch stats/.  Rotated like events/ (renderd.eventlog), but more files are
kept: at about 250 bytes a line, the defaults hold about 700 000 runs per daemon.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from renderd.errors import BadRecord
from renderd.eventlog import EventLog
from renderd.format import stats

log = logging.getLogger(__name__)

MAX_BYTES = 8 * 1024 * 1024
KEEP = 20


class StatsLog(EventLog):
    """A daemon listener: keeps one stats line per ended run, ignores every other event."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        super().__init__(path, max_bytes, keep)

    def encode(self, event: dict[str, Any]) -> bytes | None:
        kind = event.get("event")
        if kind not in ("chunk-finished", "chunk-failed"):
            return None
        try:
            if kind == "chunk-finished":
                line = stats.StatsLine.from_line(stats.StatsLine(
                    time=event["time"], host=event["host"], job=event["job"], chunk=event["chunk"], ok=True,
                    frames=event["frames"], seconds=event["seconds"], suspended=event.get("suspended", 0.0),
                    frame_seconds=event.get("frame_seconds", 0.0), fastest=event.get("fastest"),
                    slowest=event.get("slowest"), slots=event.get("slots", 1), run=event.get("run", 1),
                ).to_line())
            else:
                line = stats.from_run(time=event["time"], host=event["host"], job=event["job"], chunk=event["chunk"],
                                      ok=False, frames=0, seconds=event["seconds"],
                                      suspended=event.get("suspended", 0.0), frame_times=None,
                                      slots=event.get("slots", 1), run=event.get("run", 1),
                                      reason=str(event.get("reason") or ""))
                line = stats.StatsLine.from_line(line.to_line())  # what we write must read back
        except (KeyError, TypeError, ValueError, BadRecord) as err:
            log.warning("no stats line for %s of %s: %s", kind, event.get("chunk"), err)
            return None
        return line.to_line()
