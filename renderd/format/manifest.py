"""The job manifest (format 1): `jobs/<job>/manifest.json`, the job and its chunk list.

`render add` writes it once (and `render priority` rewrites its priority); daemons read its
`uid`, `priority` and `submitted_ms`, the front-end everything.  A manifest is hostile like any
spool file: `Manifest.from_bytes` checks every field, and a manifest that fails is shown as
unreadable, never half-used.  A job has at most MAX_CHUNKS chunks, and the writer refuses a
manifest over MAX_MANIFEST_BYTES, so no job can be written that its owner cannot read back
(and cancel): a 200 000-chunk job once wrote 19 MB, over the readers' limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from renderd.errors import BadRecord
from renderd.format import FORMAT, jsonload
from renderd.format.fields import MAX_INT, Fields
from renderd.format.hooks import HookError, Hooks
from renderd.format.info import KINDS, MAX_ATTEMPTS, MAX_INDEX, MAX_TIMEOUT, MAX_UID
from renderd.format.names import MAX_PRIORITY, MAX_SUBMITTED_MS
from renderd.format.rules import JobRules

MAX_CHUNKS = 100_000
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_FRAME = 10**9
MAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$")  # one address, no display name, no list
KNOWN = frozenset({"format", "job", "name", "kind", "owner", "uid", "priority", "created", "submitted_ms", "cwd",
                   "timeout", "max_attempts", "frames", "chunks", "blend", "blender_version", "scheduling", "hooks",
                   "mail"})


@dataclass(frozen=True)
class ChunkEntry:
    """One chunk as the manifest lists it: its id and frames."""

    chunk: str
    start: int
    end: int
    step: int

    @property
    def frames(self) -> range:
        return range(self.start, self.end + 1, self.step)


@dataclass(frozen=True)
class BlendSummary:
    """What `render add shot.blend` found in the file: shown by `render status`, used by `renderd --check`
    and by the front-end to say which hosts may render the job."""

    file: str
    sha256: str = ""
    version: tuple[int, int] | None = None
    trust_scripts: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # scenes, chunk_size, extra, after: checked, kept as written


@dataclass(frozen=True)
class Manifest:
    job: str
    name: str
    kind: str
    owner: str
    uid: int
    priority: int
    created: float
    submitted_ms: int
    frames: int
    chunks: tuple[ChunkEntry, ...]
    cwd: str = ""
    timeout: float | None = None
    max_attempts: int = 3
    blend: BlendSummary | None = None
    blender_version: str | None = None
    rest: dict[str, Any] = field(default_factory=dict)  # the kind's own fields (a command job's argv, range, ...)
    format: int = FORMAT
    rules: JobRules = field(default_factory=JobRules)  # `scheduling`: tags, hosts, max share, after (format/rules.py)
    hooks: Hooks = field(default_factory=Hooks)  # pre/post/end/error commands (format/hooks.py)
    mail: str | None = None  # where to mail when the job ends or a chunk fails for good (render add --mail)

    def chunk_frames(self) -> dict[str, range]:
        return {c.chunk: c.frames for c in self.chunks}

    def with_priority(self, priority: int) -> Manifest:
        return replace(self, priority=priority)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.format, "job": self.job, "name": self.name, "kind": self.kind, "owner": self.owner,
            "uid": self.uid, "priority": self.priority, "created": self.created, "submitted_ms": self.submitted_ms,
            "cwd": self.cwd, "timeout": self.timeout, "max_attempts": self.max_attempts, "frames": self.frames,
            "chunks": [{"chunk": c.chunk, "start": c.start, "end": c.end, "step": c.step} for c in self.chunks],
            **self.rest,
        }
        if self.blend is not None:
            b = self.blend
            version = None if b.version is None else list(b.version)
            out["blend"] = {"file": b.file, "sha256": b.sha256, "version": version, **b.data,
                            "trust_scripts": b.trust_scripts}
        if self.blender_version is not None:
            out["blender_version"] = self.blender_version
        if not self.rules.is_default:  # absent when default: a manifest like those written before it existed
            out["scheduling"] = self.rules.as_dict()
        if self.hooks:  # absent when none, as in manifests written before hooks existed
            out["hooks"] = self.hooks.as_dict()
        if self.mail is not None:
            out["mail"] = self.mail
        return out

    def to_bytes(self) -> bytes:
        """The file's bytes; BadRecord when the job is too large to be read back."""
        if len(self.chunks) > MAX_CHUNKS:
            raise BadRecord(f"job {self.job} has {len(self.chunks)} chunks; at most {MAX_CHUNKS} fit a manifest "
                            "(use larger chunks)")
        raw = jsonload.dumps(self.as_dict())
        if len(raw) > MAX_MANIFEST_BYTES:
            raise BadRecord(f"the manifest of job {self.job} would be {len(raw)} bytes, over the readers' limit of "
                            f"{MAX_MANIFEST_BYTES} (use larger chunks)")
        return raw

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | str | None = None) -> Manifest:
        f = Fields(data, path, "manifest")
        fmt = f.version(FORMAT)
        job = f.name("job")
        if path is not None and Path(path).parent.name not in ("", job) and Path(path).name == "manifest.json":
            raise f.fail(f"names job {job!r}, but lies in the folder of {Path(path).parent.name!r}")
        kind = f.choice("kind", KINDS)
        raw_chunks = f.items("chunks", max_len=MAX_CHUNKS)
        if not raw_chunks:
            raise f.fail("lists no chunks")
        chunks = tuple(_chunk(Fields(c, path, "manifest chunk"), job) if isinstance(c, dict) else _not_chunk(f)
                       for c in raw_chunks)
        blend = None if f.absent("blend", None) else _blend(f.sub("blend", "blend"))
        if kind == "blender" and blend is None:
            raise f.fail("a blender job needs its 'blend' fields")
        rules = JobRules() if f.absent("scheduling", None) else JobRules.from_fields(f.sub("scheduling", "scheduling"))
        if job in rules.after:
            raise f.fail("waits for itself")
        try:
            hooks = Hooks.from_value(data.get("hooks"))
        except HookError as err:
            raise f.fail(str(err)) from None
        mail = f.optional_text("mail", 254)
        if mail is not None and not MAIL_RE.match(mail):
            raise f.fail(f"mail address {mail[:60]!r} is not an address (user@host)")
        rest = {k: v for k, v in data.items() if k not in KNOWN}
        if "argv" in rest:
            f.texts("argv", max_len=4096, item_len=65536)
        return cls(
            job=job, name=f.text("name", "", 1024), kind=kind, owner=f.text("owner", "", 256),
            uid=f.integer("uid", -1, -1, MAX_UID), priority=f.integer("priority", 50, 0, MAX_PRIORITY),
            created=f.time("created", 0.0), submitted_ms=f.integer("submitted_ms", 0, 0, MAX_SUBMITTED_MS - 1),
            frames=f.integer("frames", 0, 0, MAX_INT), chunks=chunks, cwd=f.text("cwd", "", 4096),
            timeout=f.optional_number("timeout", 0.0, MAX_TIMEOUT), max_attempts=f.integer("max_attempts", 3, 0,
                                                                                            MAX_ATTEMPTS),
            blend=blend, blender_version=f.optional_text("blender_version", 64), rest=rest, format=fmt,
            rules=rules, hooks=hooks, mail=mail,
        )

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path | str | None = None) -> Manifest:
        return cls.from_dict(jsonload.load_object(raw, path, what="manifest", limit=MAX_MANIFEST_BYTES), path)


def _not_chunk(f: Fields) -> ChunkEntry:
    raise f.fail("field 'chunks' must be a list of objects")


def _chunk(f: Fields, job: str) -> ChunkEntry:
    chunk = f.name("chunk")
    if not chunk.startswith(job + "-"):
        raise f.fail(f"chunk {chunk!r} is not of job {job!r}")
    start, end, step = (f.integer(k, lo=-MAX_FRAME, hi=MAX_FRAME) for k in ("start", "end", "step"))
    if step < 1 or end < start:
        raise f.fail(f"bad frame range {start}-{end}:{step}")
    return ChunkEntry(chunk, start, end, step)


def _blend(f: Fields) -> BlendSummary:
    version = f.items("version", None, 2)
    if version is not None and not (len(version) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                               and 0 <= v < 1000 for v in version)):
        raise f.fail("field 'version' must be [major, minor]")
    for scene in f.items("scenes", [], 1000):
        if not isinstance(scene, dict):
            raise f.fail("field 'scenes' must be a list of objects")
        s = Fields(scene, f.path, "manifest blend scene")
        s.text("scene", max_len=256), s.text("output", "", 4096), s.integer("skipped", 0, 0, MAX_INDEX)
        for k in ("start", "end", "step"):
            s.integer(k, 0, -MAX_FRAME, MAX_FRAME)
    f.integer("chunk_size", 1, 1, MAX_FRAME)
    f.texts("extra", [], 64), f.texts("after", [], 64)
    data = {k: f.data[k] for k in ("scenes", "chunk_size", "extra", "after") if k in f.data}
    return BlendSummary(file=f.text("file", max_len=4096), sha256=f.text("sha256", "", 64),
                        version=None if version is None else (version[0], version[1]),
                        trust_scripts=f.boolean("trust_scripts", False), data=data)
