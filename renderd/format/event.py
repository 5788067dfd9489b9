"""Event lines (format 1): one JSON object per line of `events/<daemon>.jsonl`.

Each daemon appends its own events (renderd.eventlog) in the socket's event shape
(`{"v": 1, "type": "event", "event": ..., "time": ..., "host": ..., ...}`, docs/json.md);
`render tail --farm` reads every daemon's file.  Any artist can append to one, so a line is
checked here: bounded, flat (values are scalars or short lists of scalars), a known type, the
ids in the name grammar.  A line that fails is skipped by the reader, never shown half.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd.format import jsonload
from renderd.format.fields import Fields, text_ok

MAX_LINE = 1024 * 1024  # as the socket protocol's
VERSION = 1
SCALARS = (int, float, str, bool, type(None))


@dataclass(frozen=True)
class Event:
    event: str
    time: float | None = None
    host: str = ""
    chunk: str = ""
    job: str = ""
    fields: dict[str, Any] = field(default_factory=dict)  # the event's own details, flat

    def as_message(self) -> dict[str, Any]:
        """The socket protocol's shape, as `render tail` shows both."""
        out: dict[str, Any] = {"v": VERSION, "type": "event", **self.fields, "event": self.event, "time": self.time,
                               "host": self.host}
        if self.chunk:
            out["chunk"] = self.chunk
        if self.job:
            out["job"] = self.job
        return out

    @staticmethod
    def line(message: Mapping[str, Any]) -> bytes:
        """One line of an event log for a daemon's event message; BadRecord if a reader would refuse it
        (the writer's check: what a daemon appends, every `render tail --farm` can read)."""
        raw = (json.dumps({"v": VERSION, "type": "event", **message}, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")) + "\n").encode()
        Event.from_line(raw.rstrip(b"\n"))
        return raw

    @classmethod
    def from_line(cls, raw: bytes, path: Path | str | None = None) -> Event:
        data = jsonload.load_object(raw, path, what="event line", limit=MAX_LINE, depth=2)
        f = Fields(data, path, "event line")
        version = f.integer("v", lo=1, hi=1 << 30)
        if version > VERSION:
            raise f.fail(f"protocol version {version} is newer than this side's {VERSION}")
        if data.get("type") != "event":
            raise f.fail("is not an event")
        for key, value in data.items():
            if not text_ok(key, 64) or not _flat(value):
                raise f.fail(f"field {key[:64]!r} must be a short value")
        known = {"v", "type", "event", "time", "host", "chunk", "job"}
        return cls(event=f.text("event", max_len=64), time=f.optional_number("time"),
                   host=f.name("host", "") if data.get("host") else "", chunk=f.name("chunk", "") if data.get("chunk")
                   else "", job=f.name("job", "") if data.get("job") else "",
                   fields={k: v for k, v in data.items() if k not in known})


def _flat(value: Any) -> bool:
    if isinstance(value, list):
        return len(value) <= 64 and all(isinstance(v, SCALARS) and not isinstance(v, list) and _flat(v) for v in value)
    if isinstance(value, str):
        return text_ok(value, 64 * 1024)
    return isinstance(value, SCALARS)

