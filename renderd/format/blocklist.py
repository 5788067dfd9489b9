"""Blocklist records (format 1): how often a host failed a job, and what its owner forgave.

    jobs/<job>/failures/<host>.json   {"format": 1, "job", "host", "failures": N, "chunk", "time"}
    jobs/<job>/unblocked.json         {"format": 1, "job", "hosts": {"<host>": N, ...}, "by", "time"}

Each host writes only its own failures file (so no two hosts ever write one file, and no count
is lost to a race between hosts); `render unblock JOB HOST` writes `unblocked.json`, recording
how many of that host's failures it forgave.  A host is blocked from the job while
`failures - forgiven >= block_after` (the job's rule, format/rules.py).  No clock is compared:
a count is forgiven, not a time.  docs/spool-format.md, "Blocklist".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from renderd.format import FORMAT, jsonload
from renderd.format.fields import MAX_INT, Fields
from renderd.format.names import valid_name

MAX_BLOCKLIST_BYTES = 256 * 1024
MAX_FORGIVEN_HOSTS = 1024


@dataclass(frozen=True)
class HostFailures:
    """jobs/<job>/failures/<host>.json: the failed attempts of one job on one host."""

    job: str
    host: str
    failures: int = 0
    chunk: str = ""  # the chunk that failed last
    time: float | None = None

    def to_bytes(self) -> bytes:
        return jsonload.dumps({"format": FORMAT, "job": self.job, "host": self.host, "failures": self.failures,
                               "chunk": self.chunk, "time": self.time})

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path | str | None = None) -> HostFailures:
        data = jsonload.load_object(raw, path, what="failures record", limit=MAX_BLOCKLIST_BYTES)
        f = Fields(data, path, "failures record")
        f.version(FORMAT)
        host = f.name("host")
        if path is not None and Path(path).name.endswith(".json") and Path(path).name != f"{host}.json":
            raise f.fail(f"names host {host!r}, not the one its file name says")
        return cls(job=f.name("job"), host=host, failures=f.integer("failures", 0, 0, MAX_INT),
                   chunk=f.text("chunk", "", 256), time=f.optional_number("time"))


@dataclass(frozen=True)
class Unblocked:
    """jobs/<job>/unblocked.json: per host, how many of its failures `render unblock` forgave.
    `uid` is who wrote the file (its owner, from fstat): only the job's owner or an admin counts."""

    job: str
    hosts: dict[str, int] = field(default_factory=dict)
    by: str = ""
    time: float | None = None
    uid: int = -1

    def forgiven(self, host: str) -> int:
        return self.hosts.get(host, 0)

    def to_bytes(self) -> bytes:
        return jsonload.dumps({"format": FORMAT, "job": self.job, "hosts": dict(sorted(self.hosts.items())),
                               "by": self.by, "time": self.time})

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path | str | None = None, uid: int = -1) -> Unblocked:
        data = jsonload.load_object(raw, path, what="unblock record", limit=MAX_BLOCKLIST_BYTES)
        f = Fields(data, path, "unblock record")
        f.version(FORMAT)
        hosts = f.obj("hosts", {})
        if len(hosts) > MAX_FORGIVEN_HOSTS or not all(
                valid_name(h, 64) and isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_INT
                for h, n in hosts.items()):
            raise f.fail("field 'hosts' must map host names to counts")
        return cls(job=f.name("job"), hosts=dict(hosts), by=f.text("by", "", 256), time=f.optional_number("time"),
                   uid=uid)
