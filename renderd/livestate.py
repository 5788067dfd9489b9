"""What a daemon is doing now, rebuilt from its own event stream.

The socket server applies every event to this model in the order it sends them, so the
state a late subscriber gets first is exactly "everything before the next event"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Events after which a chunk no longer runs on this daemon.
ENDED = frozenset({"chunk-finished", "chunk-failed", "chunk-cancelled", "chunk-requeued", "chunk-lost"})
# Fields of chunk events worth keeping in the current state.
CHUNK_FIELDS = ("job", "start", "end", "step", "run", "log", "pid", "progress", "frame", "frames_done",
                "frames_total", "sample", "samples", "mem", "peak", "remaining", "frame_seconds")


@dataclass
class LiveState:
    host: str = ""
    daemon: dict[str, Any] = field(default_factory=dict)
    state: str | None = None
    chunks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, event: dict[str, Any]) -> None:
        name = event.get("event")
        self.host = str(event.get("host", self.host))
        if name == "daemon-started":
            self.daemon = {k: v for k, v in event.items() if k not in ("event", "type", "v")}
        elif name == "host-state":
            self.state = event.get("state")
        chunk = event.get("chunk")
        if not isinstance(chunk, str) or not isinstance(name, str) or not name.startswith("chunk-"):
            return
        if name in ENDED:
            self.chunks.pop(chunk, None)
            return
        if name != "chunk-claimed" and chunk not in self.chunks:
            return  # e.g. another host's chunk that this daemon re-queued
        entry = self.chunks.setdefault(chunk, {"chunk": chunk, "since": event.get("time")})
        entry.update({k: event[k] for k in CHUNK_FIELDS if k in event})
        if name in ("chunk-suspended", "chunk-resumed"):
            entry["suspended"] = name == "chunk-suspended"
        entry["last"] = name

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": "state",
            "host": self.host,
            "daemon": self.daemon,
            "state": self.state,
            "chunks": [dict(c) for _, c in sorted(self.chunks.items())],
        }
