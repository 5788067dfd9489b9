"""The read side of the spool: what is queued, claimed, done, failed, quarantined; records and logs.

Listings are names only (one `scandir`, no stat per entry: 100 000 queued chunks cost little),
and names that are not the spool's own (`.nfs*`, editors' temp files) are ignored, never
quarantined.  Records are read through their typed readers (renderd.format): a record that
fails is absent, with one rate-limited line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from renderd.errors import BadInfoFile, BadRecord, SpoolError
from renderd.format.control import MAX_CONTROL_BYTES, HostControl, JobControl
from renderd.format.done import MAX_RECORD_BYTES, CancelledRecord, DoneRecord
from renderd.format.host import MAX_HOST_BYTES, HostRecord
from renderd.format.info import MAX_INFO_BYTES, ChunkInfo
from renderd.format.manifest import MAX_MANIFEST_BYTES, Manifest
from renderd.format.names import INFO_RE, ROTATED_RE, ClaimName, QueueDir, valid_name
from renderd.spool.base import R, SpoolBase, warn_limited
from renderd.spool.io import UnsafeEntry


class Listings(SpoolBase):
    # -- info files -------------------------------------------------------------------

    def read_info(self, path: Path) -> ChunkInfo:
        """Read an info file without following symlinks; BadInfoFile if it cannot be trusted."""
        try:
            raw = self.io.read(path, MAX_INFO_BYTES)
        except UnsafeEntry as err:
            raise BadInfoFile(err.what, path) from None
        except PermissionError:  # mode 000 or a foreign owner: no daemon of this user will ever read it
            raise BadInfoFile("cannot be read (permission denied)", path) from None
        try:
            return ChunkInfo.from_bytes(raw, path.name)
        except BadInfoFile as err:
            raise BadInfoFile(err.message, path) from None

    # -- jobs -------------------------------------------------------------------------

    def list_jobs(self) -> list[str]:
        return sorted(n for n in self.names(self.root / "jobs") if valid_name(n))

    def read_manifest(self, job: str) -> Manifest | None:
        """The job's manifest; None when it has none or it fails validation (logged)."""
        if not valid_name(job):
            return None
        return self.read_record(self.manifest_path(job), Manifest.from_bytes, MAX_MANIFEST_BYTES)

    def read_manifest_owned(self, job: str) -> tuple[Manifest, int, int] | None:
        """The job's manifest, the uid that owns the file it was read from (one open: no swap
        between the read and the owner's check) and the uid that owns the job's folder; None as
        `read_manifest`.  What access.manifest_is_the_owners judges."""
        if not valid_name(job):
            return None
        path = self.manifest_path(job)
        try:
            folder_uid = self.io.lstat(self.job_dir(job)).st_uid
            raw, uid = self.io.read_with_owner(path, MAX_MANIFEST_BYTES)
        except OSError:
            return None
        try:
            return Manifest.from_bytes(raw, path), uid, folder_uid
        except BadRecord as err:
            warn_limited.warning("bad record in jobs", "ignored %s", err)
            return None

    def load_manifest(self, job: str) -> Manifest:
        """The job's manifest, or why not: SpoolError (no such job) or BadRecord (unreadable)."""
        path = self.manifest_path(job)
        try:
            raw = self.io.read(path, MAX_MANIFEST_BYTES) if valid_name(job) else None
        except UnsafeEntry as err:
            raise BadRecord(err.what, path) from None
        except OSError:
            raw = None
        if raw is None:
            raise SpoolError(f"no job {job!r}", self.root)
        return Manifest.from_bytes(raw, path)

    def job_control(self, job: str) -> JobControl:
        """The job's control flags and who wrote them (the file's owner, not a claim in it)."""
        path = self.control_path(job)
        try:
            raw, uid = self.io.read_with_owner(path, MAX_CONTROL_BYTES)
        except OSError:
            return JobControl()
        try:
            return JobControl.from_bytes(raw, path, uid=uid)
        except BadRecord as err:
            warn_limited.warning("bad job control", "ignored %s", err)
            return JobControl(uid=uid)

    def done_chunks(self, job: str) -> dict[str, DoneRecord]:
        return self._records(self.job_dir(job) / "done", DoneRecord.from_bytes)

    def cancelled_chunks(self, job: str) -> dict[str, CancelledRecord]:
        return self._records(self.job_dir(job) / "cancelled", CancelledRecord.from_bytes)

    def chunk_logs(self, job: str, chunk: str) -> list[Path]:
        """Every log of a chunk (`<chunk>.<host>.<run>.log`: any host, any attempt), oldest first."""
        folder = self.job_dir(job) / "logs"
        found = []
        for name in self.names(folder):
            if name.startswith(chunk + ".") and name.endswith(".log") and valid_name(name):
                try:
                    found.append((self.io.lstat(folder / name).st_mtime, folder / name))
                except OSError:
                    continue
        return [path for _, path in sorted(found)]

    def job_logs(self, job: str) -> list[Path]:
        folder = self.job_dir(job) / "logs"
        return [folder / n for n in self.names(folder) if n.endswith(".log") and valid_name(n)]

    def stats_logs(self) -> list[Path]:
        """Every daemon's stats log, rotated copies included (history outlives the jobs)."""
        return sorted(self.root / "stats" / n for n in self.names(self.root / "stats")
                      if (n.endswith(".jsonl") and valid_name(n[:-6])) or ROTATED_RE.match(n))

    def event_logs(self) -> list[Path]:
        """The current event log of every daemon (not the rotated ones)."""
        return sorted(self.root / "events" / n for n in self.names(self.root / "events")
                      if n.endswith(".jsonl") and valid_name(n[:-6]))

    def _records(self, folder: Path, parse: Callable[[bytes, Path], R], limit: int = MAX_RECORD_BYTES) -> dict[str, R]:
        """`<name>.json` records of a folder that pass their reader, by name."""
        out: dict[str, R] = {}
        for name in self.names(folder):
            if name.endswith(".json") and valid_name(name[:-5]):
                rec = self.read_record(folder / name, parse, limit)
                if rec is not None:
                    out[name[:-5]] = rec
        return out

    # -- queue ------------------------------------------------------------------------

    def queue_dirs(self) -> list[QueueDir]:
        """Job folders in the queue, highest priority first, then oldest."""
        dirs = [q for q in map(QueueDir.parse, self.names(self.root / "queue")) if q is not None]
        return sorted(dirs, key=lambda q: q.name)

    def queue_dir_of(self, job: str) -> QueueDir | None:
        for q in self.queue_dirs():
            if q.job == job:
                return q
        return None

    def queued_chunks(self, qdir: QueueDir) -> list[str]:
        """Chunk ids queued in one job folder, in order; foreign names are ignored."""
        out = []
        for name in self.names(self.root / "queue" / qdir.name):
            m = INFO_RE.match(name)
            if m is not None:
                out.append(m["chunk"])
        return sorted(out)

    # -- claimed / failed / bad -------------------------------------------------------

    def claims(self) -> list[ClaimName]:
        return [c for c in map(ClaimName.parse, self.names(self.root / "claimed")) if c is not None]

    def failed_chunks(self) -> list[str]:
        return sorted(m["chunk"] for m in map(INFO_RE.match, self.names(self.root / "failed")) if m is not None)

    def failed_reason(self, chunk: str) -> str:
        try:
            raw = self.io.read(self.failed_reason_path(chunk), 64 * 1024)
        except OSError:
            return ""
        return raw.decode(errors="replace").strip()

    def bad_files(self) -> list[str]:
        return sorted(n for n in self.names(self.root / "bad") if not n.endswith(".reason"))

    # -- hosts ------------------------------------------------------------------------

    def host_control(self, name: str) -> HostControl | None:
        """The owner's standing order for a host; None: none (or one that fails validation, logged)."""
        return self.read_record(self.host_control_path(name), HostControl.from_bytes, MAX_CONTROL_BYTES)

    def host_control_owned(self, name: str) -> tuple[HostControl, int] | None:
        """As `host_control`, with the uid that owns the file (who wrote the order, not a claim in it)."""
        path = self.host_control_path(name)
        try:
            raw, uid = self.io.read_with_owner(path, MAX_CONTROL_BYTES)
        except OSError:
            return None
        try:
            return HostControl.from_bytes(raw, path), uid
        except BadRecord as err:
            warn_limited.warning("bad host control", "ignored %s", err)
            return None

    def hosts(self) -> dict[str, HostRecord]:
        """Every host record that passes its reader, by name (a planted one that fails is ignored, logged)."""
        return self._records(self.root / "hosts", HostRecord.from_bytes, MAX_HOST_BYTES)
