"""Control records (format 1): what an owner asked of a job or a host.

`jobs/<job>/control.json` holds a job's flags (paused, now = suspend running chunks too,
cancelled), written by `render pause|resume|cancel`; `hosts/<host>.control` holds a host's
standing order (pause / drain), written by `render host`.  Who wrote a job's control file is
its file owner (`uid`, from fstat, given by the caller), never a uid written inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from renderd.format import FORMAT, jsonload
from renderd.format.fields import Fields

MAX_CONTROL_BYTES = 64 * 1024
HOST_CONTROLS = ("pause", "drain")


@dataclass(frozen=True)
class JobControl:
    """jobs/<job>/control.json: what the owner asked of a job (`uid` is who wrote the file)."""

    paused: bool = False
    now: bool = False  # pause --now: suspend running chunks too
    cancelled: bool = False
    uid: int = -1
    by: str = ""
    time: float | None = None

    @property
    def holds(self) -> bool:
        """No new claims for this job."""
        return self.paused or self.cancelled

    def to_bytes(self) -> bytes:
        return jsonload.dumps({"format": FORMAT, "paused": self.paused, "now": self.now, "cancelled": self.cancelled,
                               "by": self.by, "time": self.time})

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path | str | None = None, uid: int = -1) -> JobControl:
        f = Fields(jsonload.load_object(raw, path, what="job control", limit=MAX_CONTROL_BYTES), path, "job control")
        f.version(FORMAT)
        return cls(paused=f.boolean("paused", False), now=f.boolean("now", False),
                   cancelled=f.boolean("cancelled", False), uid=uid, by=f.text("by", "", 256),
                   time=f.optional_number("time"))


@dataclass(frozen=True)
class HostControl:
    """hosts/<host>.control: the owner's standing order for a host, read by its daemon."""

    control: str
    by: str = ""
    time: float | None = None

    def to_bytes(self) -> bytes:
        return jsonload.dumps({"format": FORMAT, "control": self.control, "by": self.by, "time": self.time})

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path | str | None = None) -> HostControl:
        f = Fields(jsonload.load_object(raw, path, what="host control", limit=MAX_CONTROL_BYTES), path, "host control")
        f.version(FORMAT)
        return cls(control=f.choice("control", HOST_CONTROLS), by=f.text("by", "", 256),
                   time=f.optional_number("time"))
