"""The host record (format 1): `hosts/<host>.json`, what a daemon offers and is doing.

Its daemon rewrites it every heartbeat; other daemons read whether it is live and what it may
run (to leave a chunk to a host it has not failed on), `render hosts`/`top`/`status` show it.
Any artist can plant one, so every field any reader uses is checked here (a `load` that is an
int, `[` x 100 000, a heartbeat of 1e300 once crashed readers or stopped daemons).  Fields this
renderd does not know are kept as written (a newer daemon's), never read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd.format import FORMAT, jsonload
from renderd.format.fields import MAX_INT, Fields
from renderd.format.names import MAX_PID
from renderd.format.rules import MAX_TAG, MAX_TAGS, valid_tag

MAX_HOST_BYTES = 1024 * 1024
HOST_STALE_AFTER = 30.0
MAX_SLOTS = 1024
MAX_LOAD = 1e6
KNOWN = ("format", "name", "hostname", "pid", "cpus", "load", "mem_total", "mem_free", "swap_total", "swap_free",
         "state", "chunks", "version", "heartbeat", "started", "stale_after", "slots", "allow_commands",
         "allow_scripts", "blender_version", "when", "queued_seen", "admin_group", "control", "policy",
         "owner_idle", "idle_after", "schedule", "boot_id", "instance",
         "tags", "ffmpeg", "gpu", "devices", "slot_devices")  # in the order the daemon writes them
MAX_DEVICES = 64
DEVICE_TYPES = ("CPU", "CUDA", "OPTIX", "HIP", "ONEAPI", "METAL")
PROGRESS_SCALARS = (int, float, str, bool, type(None))


@dataclass(frozen=True)
class HostChunk:
    """A chunk the host is running."""

    chunk: str
    job: str
    start: int = 0
    end: int = 0
    started: float | None = None
    pid: int | None = None
    suspended: bool = False
    progress: dict[str, Any] | None = None  # the render's own progress (frames saved, ...): flat, small
    slot: int | None = None  # which slot runs it (the host's `slot_devices` says on which device)

    @property
    def fraction(self) -> float | None:
        """How far the render is (0-1), if it told."""
        value = (self.progress or {}).get("progress")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def frames_total(self) -> int | None:
        value = (self.progress or {}).get("frames_total")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def as_dict(self) -> dict[str, Any]:
        return {"chunk": self.chunk, "job": self.job, "start": self.start, "end": self.end, "started": self.started,
                "pid": self.pid, "suspended": self.suspended, "progress": self.progress} | (
                    {} if self.slot is None else {"slot": self.slot})


@dataclass(frozen=True)
class HostRecord:
    name: str
    heartbeat: float | None = None
    state: str = "offline"
    hostname: str = ""
    pid: int | None = None
    cpus: int | None = None
    load: tuple[float, ...] | None = None  # the 1, 5 and 15 minute load averages
    mem_total: int | None = None
    mem_free: int | None = None
    swap_total: int | None = None
    swap_free: int | None = None
    chunks: tuple[HostChunk, ...] = ()
    version: str = ""
    started: float | None = None
    stale_after: float = HOST_STALE_AFTER
    slots: int | None = None
    allow_commands: bool = False
    allow_scripts: bool = False
    blender_version: str | None = None
    when: str | None = None
    queued_seen: int | None = None
    admin_group: str | None = None
    control: str | None = None
    policy: str | None = None
    owner_idle: float | None = None
    idle_after: float | None = None
    schedule: str | None = None
    boot_id: str | None = None  # this boot of the machine (a pid from an earlier boot names nothing alive)
    instance: str | None = None  # this start of the daemon
    tags: frozenset[str] = frozenset()  # `renderd --tags`: the groups ("farms") this host is in
    ffmpeg: bool = False  # it has a working ffmpeg: it may take encode chunks
    gpu: bool = False  # some slot renders on a GPU (`renderd --device`): it may take `render add --gpu` jobs
    devices: tuple[dict[str, Any], ...] = ()  # Cycles devices its Blender listed: {type, index, id, name}
    slot_devices: tuple[str | None, ...] = ()  # the device spec each slot renders on (None: Blender's choice)
    rest: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT

    def is_live(self, at: float | None = None) -> bool:
        """Live while its record was refreshed recently and it did not sign off."""
        if self.heartbeat is None or self.state == "offline":
            return False
        return (at if at is not None else time.time()) - self.heartbeat < self.stale_after

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: getattr(self, key) for key in KNOWN}
        out["load"] = None if self.load is None else list(self.load)
        out["chunks"] = [c.as_dict() for c in self.chunks]
        out["tags"] = sorted(self.tags)
        for late in ("boot_id", "instance"):  # added after format 1 shipped: absent when unknown
            if out[late] is None:
                del out[late]
        if not self.tags:
            del out["tags"]
        if not self.ffmpeg:
            del out["ffmpeg"]
        out["devices"] = list(self.devices)
        out["slot_devices"] = list(self.slot_devices)
        for late in ("gpu", "devices", "slot_devices"):  # only on daemons started with --device
            if not out[late]:
                del out[late]
        return out | self.rest

    def to_bytes(self) -> bytes:
        return jsonload.dumps(self.as_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | str | None = None) -> HostRecord:
        f = Fields(data, path, "host record")
        fmt = f.version(FORMAT)
        name = f.name("name")
        if path is not None and Path(path).name.endswith(".json") and Path(path).name != f"{name}.json":
            raise f.fail(f"names host {name!r}, not the one its file name says")
        load = f.items("load", None, 3)
        if load is not None and not (load and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= MAX_LOAD for v in load)):
            raise f.fail("field 'load' must be one to three load averages")
        raw_chunks = f.items("chunks", [], MAX_SLOTS)
        if not all(isinstance(c, dict) for c in raw_chunks):
            raise f.fail("field 'chunks' must be a list of objects")
        tags = f.texts("tags", [], MAX_TAGS, MAX_TAG)
        if not all(valid_tag(t) for t in tags):
            raise f.fail("field 'tags' must be a list of names")
        sizes = {k: f.integer(k, None, 0, MAX_INT) for k in ("mem_total", "mem_free", "swap_total", "swap_free")}
        return cls(
            name=name, heartbeat=f.optional_number("heartbeat"), state=f.text("state", "offline", 64),
            hostname=f.text("hostname", "", 256), pid=f.integer("pid", None, 0, MAX_PID),
            cpus=f.integer("cpus", None, 0, 1 << 16), load=None if load is None else tuple(map(float, load)),
            chunks=tuple(_chunk(Fields(c, path, "host record chunk")) for c in raw_chunks),
            version=f.text("version", "", 64), started=f.optional_number("started"),
            stale_after=f.number("stale_after", HOST_STALE_AFTER, 0.0, 86400.0),
            slots=f.integer("slots", None, 0, MAX_SLOTS), allow_commands=f.boolean("allow_commands", False),
            allow_scripts=f.boolean("allow_scripts", False), blender_version=f.optional_text("blender_version", 64),
            when=f.optional_text("when", 256), queued_seen=f.integer("queued_seen", None, 0, MAX_INT),
            admin_group=f.optional_text("admin_group", 256), control=f.optional_text("control", 32),
            policy=f.optional_text("policy", 1024), owner_idle=f.optional_number("owner_idle"),
            idle_after=f.optional_number("idle_after"), schedule=f.optional_text("schedule", 1024),
            boot_id=f.optional_text("boot_id", 64), instance=f.optional_text("instance", 64), tags=frozenset(tags),
            ffmpeg=f.boolean("ffmpeg", False), gpu=f.boolean("gpu", False), devices=_devices(f),
            slot_devices=_slot_devices(f),
            rest={k: v for k, v in data.items() if k not in KNOWN}, format=fmt, **sizes,
        )

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path | str | None = None) -> HostRecord:
        return cls.from_dict(jsonload.load_object(raw, path, what="host record", limit=MAX_HOST_BYTES), path)


def _devices(f: Fields) -> tuple[dict[str, Any], ...]:
    raw = f.items("devices", [], MAX_DEVICES)
    out = []
    for item in raw:
        if not (isinstance(item, dict) and item.get("type") in DEVICE_TYPES and isinstance(item.get("index"), int)
                and not isinstance(item.get("index"), bool) and 0 <= item["index"] < 1000
                and all(isinstance(item.get(k), str) and len(item[k]) <= 256 for k in ("id", "name"))):
            raise f.fail("field 'devices' must be a list of {type, index, id, name}")
        out.append({k: item[k] for k in ("type", "index", "id", "name")})
    return tuple(out)


def _slot_devices(f: Fields) -> tuple[str | None, ...]:
    raw = f.items("slot_devices", [], MAX_SLOTS)
    if not all(v is None or (isinstance(v, str) and len(v) <= 16) for v in raw):
        raise f.fail("field 'slot_devices' must be a list of device specs or nulls")
    return tuple(raw)


def _chunk(f: Fields) -> HostChunk:
    progress = f.obj("progress", None)
    if progress is not None and (len(progress) > 64 or not all(
            isinstance(v, PROGRESS_SCALARS) and (not isinstance(v, str) or len(v) <= 1024) for v in progress.values())):
        raise f.fail("field 'progress' must be a small flat object")
    return HostChunk(chunk=f.name("chunk"), job=f.name("job"), start=f.integer("start", 0, -(10**9), 10**9),
                     end=f.integer("end", 0, -(10**9), 10**9), started=f.optional_number("started"),
                     pid=f.integer("pid", None, 0, MAX_PID),
                     suspended=f.boolean("suspended", False), progress=progress,
                     slot=f.integer("slot", None, 0, MAX_SLOTS))
