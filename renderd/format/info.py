"""The info file (format 1): one chunk of work, the content of `queue/.../<chunk>.info`.

`ChunkInfo.from_bytes` is the only way in: every field is checked for type, range and length,
ids against the name grammar, counters against sane upper bounds (a huge `max_attempts` or a
4 300-digit `requeues` is refused, not looped on), the `blender` block by `blender_fields`.
Anything wrong is a `BadInfoFile` whose message is the one-line reason written beside the file
when the daemon quarantines it.  docs/spool-format.md lists the fields.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from renderd.errors import BadInfoFile
from renderd.format import FORMAT, jsonload
from renderd.format.blender_fields import check_frames
from renderd.format.blender_fields import validate_fields as blender_fields
from renderd.format.encode_fields import check_range, validate_encode
from renderd.format.names import INFO_RE, MAX_PRIORITY, valid_name

MAX_INFO_BYTES = 256 * 1024
MAX_HISTORY = 40
MAX_TIMEOUT = 1e9
MAX_CREATED = 9_999_999_999.0  # seconds: a queue folder holds the submission time in 13 digits of milliseconds
MAX_INDEX = 10_000_000
MAX_UID = 2**32 - 1
MAX_ENV = 256
MAX_ATTEMPTS = 100  # `render add --max-attempts` allows 1-100
COUNTER_LIMITS = {"attempts": 1000, "max_attempts": MAX_ATTEMPTS, "requeues": 1000}
DEFAULT_PRIORITY = 50
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KINDS = ("command", "blender", "encode")


def now() -> float:
    return time.time()


@dataclass
class ChunkInfo:
    """One chunk of work: the content of an info file."""

    job: str
    chunk: str
    index: int
    kind: str
    argv: list[str]
    start: int
    end: int
    step: int
    cwd: str = ""
    env: dict[str, str] = field(default_factory=dict)
    priority: int = DEFAULT_PRIORITY
    owner: str = ""
    uid: int = -1
    created: float = 0.0
    timeout: float | None = None
    attempts: int = 0
    max_attempts: int = 3
    requeues: int = 0
    failed_hosts: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    blender: dict[str, Any] | None = None
    format: int = FORMAT
    encode: dict[str, Any] | None = None  # an encode chunk's fields (format/encode_fields.py); absent otherwise

    @property
    def frames(self) -> list[int]:
        return list(range(self.start, self.end + 1, self.step))

    @property
    def run_number(self) -> int:
        """1 for the first run, +1 for every failed attempt or lost lease."""
        return self.attempts + self.requeues + 1

    def note(self, event: str, host: str = "", **detail: Any) -> None:
        """Append a history entry (bounded, oldest dropped first)."""
        entry: dict[str, Any] = {"time": round(now(), 3), "event": event}
        if host:
            entry["host"] = host
        entry.update(detail)
        self.history.append(entry)
        del self.history[:-MAX_HISTORY]

    def history_times(self, event: str, host: str | None = None, key: str = "time") -> list[float]:
        """The `key` times of this chunk's `event` entries (of `host`, if given), oldest first."""
        return [float(h[key]) for h in self.history
                if h.get("event") == event and (host is None or h.get("host") == host)
                and isinstance(h.get(key), (int, float)) and not isinstance(h.get(key), bool)]

    def as_dict(self) -> dict[str, Any]:
        """The fields, `format` first; shallow (asdict's deep copies cost more than the JSON itself)."""
        out = {"format": self.format} | {f.name: getattr(self, f.name) for f in fields(self) if f.name != "format"}
        if out["encode"] is None:  # only encode chunks have it: other info files read as before it existed
            del out["encode"]
        return out

    def to_bytes(self) -> bytes:
        return jsonload.dumps(self.as_dict())

    @classmethod
    def from_bytes(cls, raw: bytes, filename: str | None = None) -> ChunkInfo:
        """Parse and validate; BadInfoFile says why a file cannot be trusted."""
        data = jsonload.load_object(raw, what="info file", limit=MAX_INFO_BYTES, error=BadInfoFile)
        info = cls.from_dict(data)
        if filename is not None and INFO_RE.match(filename) is not None and filename != f"{info.chunk}.info":
            raise BadInfoFile(f"file name {filename!r} does not match its chunk {info.chunk!r}")
        return info

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkInfo:
        """Validate parsed JSON (an info file, or the `info` a done or cancelled record keeps)."""
        info = _validated(data)
        try:  # what we accept we must be able to write back (a lone surrogate from a \ud800 escape cannot be)
            json.dumps(info.as_dict(), ensure_ascii=False).encode()  # as to_bytes, without its slower indent
        except UnicodeEncodeError:
            raise BadInfoFile("holds a string that is not valid Unicode") from None
        return info


def _field(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise BadInfoFile(f"missing field {key!r}")
        return default
    value = data[key]
    if isinstance(value, bool) and kind is not bool:
        raise BadInfoFile(f"field {key!r} has the wrong type")
    if not isinstance(value, kind):
        raise BadInfoFile(f"field {key!r} has the wrong type")
    return value


def _str_list(value: Any, key: str, limit: int = 4096) -> list[str]:
    if not isinstance(value, list) or len(value) > limit:
        raise BadInfoFile(f"field {key!r} must be a list of strings")
    for item in value:
        if not isinstance(item, str) or "\0" in item or len(item) > 65536:
            raise BadInfoFile(f"field {key!r} must be a list of strings")
    return list(value)


def history_entry_ok(entry: Any) -> bool:
    """A history entry is a small flat object: `time` a number, `event` a word, other values scalars."""
    if not isinstance(entry, dict) or len(entry) > 16:
        return False
    for key, value in entry.items():
        if len(key) > 64 or not isinstance(value, (str, int, float, bool, type(None))):
            return False
        if isinstance(value, str) and len(value) > 4096:
            return False
    time_ = entry.get("time", 0.0)
    return (isinstance(time_, (int, float)) and not isinstance(time_, bool)
            and isinstance(entry.get("event", ""), str) and isinstance(entry.get("host", ""), str))


def _bounded(data: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value: int = _field(data, key, int, default)
    if not lo <= value <= hi:
        raise BadInfoFile(f"field {key!r} outside {lo}-{hi}")
    return value


def _text(data: Mapping[str, Any], key: str, limit: int = 256) -> str:
    value: str = _field(data, key, str, "")
    if len(value) > limit or "\0" in value:
        raise BadInfoFile(f"field {key!r} is not a name of at most {limit} characters")
    return value


def relative_path_ok(path: str) -> bool:
    """A spool-relative path that stays inside the spool."""
    if not path or path.startswith("/") or "\0" in path:
        return False
    return all(part not in ("..",) for part in path.split("/"))


def _validated(data: Mapping[str, Any]) -> ChunkInfo:
    fmt = _field(data, "format", int)
    if fmt > FORMAT:
        raise BadInfoFile(f"written by a newer renderd (format {fmt}, this one reads up to {FORMAT})")
    if fmt < 1:
        raise BadInfoFile(f"unknown format {fmt}")
    job = _field(data, "job", str)
    chunk = _field(data, "chunk", str)
    if not valid_name(job) or not valid_name(chunk) or not chunk.startswith(job + "-"):
        raise BadInfoFile("job or chunk id is not a safe name (letters, digits, '._+-', '<job>-<index>')")
    kind = _field(data, "kind", str)
    if kind not in KINDS:
        raise BadInfoFile(f"unknown kind {kind!r}")
    argv = _str_list(_field(data, "argv", list), "argv")
    if kind == "command" and not argv:
        raise BadInfoFile("a command chunk needs a program")
    start, end, step = (_field(data, k, int) for k in ("start", "end", "step"))
    if step < 1 or end < start or end - start > 10_000_000:
        raise BadInfoFile(f"bad frame range {start}-{end}:{step}")
    cwd = _field(data, "cwd", str, "")
    if cwd and not cwd.startswith("/") and not relative_path_ok(cwd):
        raise BadInfoFile(f"working directory {cwd!r} escapes the spool")
    if "\0" in cwd:
        raise BadInfoFile("working directory holds a NUL byte")
    env = _field(data, "env", dict, {})
    if len(env) > MAX_ENV:
        raise BadInfoFile(f"more than {MAX_ENV} environment entries")
    for key, value in env.items():
        if not ENV_KEY_RE.match(key) or not isinstance(value, str) or "\0" in value:
            raise BadInfoFile(f"bad environment entry {key!r}")
    priority = _field(data, "priority", int, DEFAULT_PRIORITY)
    if not 0 <= priority <= MAX_PRIORITY:
        raise BadInfoFile(f"priority {priority} outside 0-{MAX_PRIORITY}")
    counters = {k: _field(data, k, int, d) for k, d in (("attempts", 0), ("max_attempts", 3), ("requeues", 0))}
    for key, value in counters.items():  # a 4 300-digit requeues once made every recovery raise
        if not 0 <= value <= COUNTER_LIMITS[key]:
            raise BadInfoFile(f"field {key!r} is {str(value)[:20]}, outside 0-{COUNTER_LIMITS[key]}")
    failed_hosts = _str_list(_field(data, "failed_hosts", list, []), "failed_hosts", 1000)
    history = _field(data, "history", list, [])
    if len(history) > 10 * MAX_HISTORY or not all(map(history_entry_ok, history)):
        raise BadInfoFile("field 'history' must be a list of flat objects ({time, event, host?, ...})")
    timeout = _field(data, "timeout", (int, float, type(None)), None)
    if timeout is not None and timeout <= 0:
        raise BadInfoFile("timeout must be positive")
    if timeout is not None and timeout > MAX_TIMEOUT:
        raise BadInfoFile(f"timeout longer than {MAX_TIMEOUT:g} seconds")
    blender = _field(data, "blender", (dict, type(None)), None)
    if kind == "blender":
        if blender is None:
            raise BadInfoFile("a blender chunk needs its 'blender' fields")
        blender = blender_fields(blender)
        check_frames(start, end)
    encode = _field(data, "encode", (dict, type(None)), None)
    if kind == "encode":
        if encode is None:
            raise BadInfoFile("an encode chunk needs its 'encode' fields")
        encode = validate_encode(encode)
        check_range(start, end)
    elif encode is not None:
        raise BadInfoFile(f"a {kind} chunk has no 'encode' fields")
    created = _field(data, "created", (int, float), 0.0)
    if not 0 <= created < MAX_CREATED:
        raise BadInfoFile(f"field 'created' is not a time (seconds since 1970): {created}")
    return ChunkInfo(
        job=job,
        chunk=chunk,
        index=_bounded(data, "index", 0, 0, MAX_INDEX),
        kind=kind,
        argv=argv,
        start=start,
        end=end,
        step=step,
        cwd=cwd,
        env=dict(env),
        priority=priority,
        owner=_text(data, "owner"),
        uid=_bounded(data, "uid", -1, -1, MAX_UID),
        created=float(created),
        timeout=None if timeout is None else float(timeout),
        failed_hosts=failed_hosts,
        history=[dict(h) for h in history[-MAX_HISTORY:]],
        blender=None if blender is None else dict(blender),
        format=fmt,
        encode=None if encode is None else dict(encode),
        **counters,
    )
