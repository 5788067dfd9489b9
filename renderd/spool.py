"""The spool: the one module that knows the folder layout and reads/writes info files.

Layout (docs/spool-format.md is the user-facing description)::

    SPOOL/renderd-spool.toml                       marker: format version
    SPOOL/jobs/<job>/manifest.json                 the job and its chunk list
    SPOOL/jobs/<job>/done/<chunk>.json             one record per finished chunk
    SPOOL/jobs/<job>/logs/<chunk>.<host>.<run>.log
    SPOOL/jobs/<job>/control.json                  paused / cancelled flags (job control)
    SPOOL/jobs/<job>/cancelled/<chunk>.json        one record per cancelled chunk (its info kept)
    SPOOL/queue/<999-prio>-<submitted ms>-<job>/<chunk>.info
    SPOOL/claimed/<chunk>.info@<host>.<pid>.<nonce>     (+ .hb heartbeat)
    SPOOL/failed/<chunk>.info (+ .reason)
    SPOOL/bad/<name> (+ .reason)
    SPOOL/hosts/<host>.json
    SPOOL/hosts/<host>.control                      pause / drain order from the owner
    SPOOL/events/<daemon>.jsonl
    SPOOL/tmp/  SPOOL/locks/

Every file whose content changes is written to tmp/ and renamed into place, so a
reader never sees half a file.  Everything read from the spool is hostile until
validated here.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from renderd import __version__, spoolio
from renderd.errors import BadInfoFile, BadRecord, SpoolError
from renderd.format import FORMAT
from renderd.format.control import MAX_CONTROL_BYTES, HostControl, JobControl
from renderd.format.done import MAX_RECORD_BYTES, CancelledRecord, DoneRecord
from renderd.format.host import MAX_HOST_BYTES, HostRecord
from renderd.format.info import MAX_INFO_BYTES, ChunkInfo, now
from renderd.format.manifest import MAX_MANIFEST_BYTES, Manifest
from renderd.format.marker import MAX_MARKER_BYTES, Marker
from renderd.format.names import (
    INFO_RE,
    NAME,
    ROTATED_RE,
    ClaimName,
    QueueDir,
    nonce,
    valid_name,
)
from renderd.ratelog import RateLimitedLog
from renderd.spoolio import SpoolIO, UnsafeEntry
from renderd.states import ChunkState, check_transition

MARKER = "renderd-spool.toml"
LAYOUT = ("jobs", "queue", "claimed", "failed", "bad", "hosts", "events", "stats", "tmp", "locks")


# What `render clean` may sweep: the names renderd itself makes in bad/, tmp/ and locks/.
_STEM = r"[A-Za-z0-9_][^/]*"
BAD_RE = re.compile(rf"^{_STEM}\.[0-9a-f]{{8}}(?:\.reason)?$")  # move_aside: <name[:200]>.<nonce>
TMP_RE = re.compile(  # write_atomic's .<pid>.<nonce>.tmp, submit's .staging, .new, take_over's .<why>.<pid>.<nonce>
    rf"^{_STEM}\.(?:\d+\.[0-9a-f]{{8}}\.tmp|[0-9a-f]{{8}}\.(?:staging|new)|[a-z]+\.\d+\.[0-9a-f]{{8}})$")
LOCK_RE = re.compile(rf"^{NAME}\.lock$")
ASIDE_RE = re.compile(r"^\.unsafe-bad\.[0-9a-f]{8}$")  # a bad/ that was a link, moved aside by repair_layout

log = logging.getLogger(__name__)
# The daemon's handlers (logsetup) get these lines; `render`, which configures no logging, shows an
# unreadable record its own way and must not get Python's last-resort stderr line on every read.
log.addHandler(logging.NullHandler())
T = TypeVar("T")
R = TypeVar("R")
warn_limited = RateLimitedLog(log)

# --------------------------------------------------------------------------- the spool


def is_spool(path: Path) -> bool:
    return (path / MARKER).is_file()


class Spool:
    """A spool folder.  `Spool.open(path)` checks the marker; `create=True` lays it out."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.created_layout = False
        self._io: SpoolIO | None = None

    @property
    def io(self) -> SpoolIO:
        """The one way in and out of this spool (renderd.spoolio), opened on first use."""
        if self._io is None:
            self._io = spoolio.opened(self.root, LAYOUT)
        return self._io

    def names(self, folder: Path) -> list[str]:
        """Names in a spool folder; a folder that is a symlink (or not a folder) is empty, with
        one warning (rate-limited): nothing is ever listed or claimed through a planted link."""
        try:
            return self.io.names(folder)
        except UnsafeEntry as err:
            warn_limited.warning(f"unsafe folder {folder}", "not listing %s", err)
            return []

    # -- opening ------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, create: bool = False) -> Spool:
        root = Path(path).expanduser().absolute()
        if not root.is_dir():
            raise SpoolError("spool folder does not exist (is the share mounted?)", root)
        spool = cls(root)
        marker = root / MARKER
        if not marker.exists():
            if not create:
                raise SpoolError(f"not a renderd spool (no {MARKER}); `render add` or `renderd` sets it up", root)
            spool._create_marker()
        spool._check_marker()
        if create:
            spool.repair_layout()
        return spool

    def repair_layout(self) -> list[str]:
        """Make missing layout folders; a layout folder that is a symlink, a file or a mount is
        moved aside to bad/ (never followed, never deleted) and made again.  Returns what was
        moved, each also one warning line.  SpoolError if one stays unsafe (it cannot be moved).

        bad/ and tmp/ first: the others are moved into bad/ and their reasons written via tmp/."""
        moved, stuck = [], []
        for sub in ("bad", "tmp", *(s for s in LAYOUT if s not in ("bad", "tmp"))):
            try:
                self.io.mkdir(self.root / sub)
                continue
            except UnsafeEntry as err:
                reason = f"the spool's {sub}/ folder {err.what}"
            aside = f"{sub}.{nonce()}"
            try:
                if sub == "bad":  # nowhere safe to put it but beside itself, under a name no listing reads
                    self.io.rename(self.root / sub, self.root / f".unsafe-{aside}")
                else:
                    self.io.rename(self.root / sub, self.root / "bad" / aside)
                self.io.mkdir(self.root / sub)
                if sub != "bad":
                    self.write_atomic(self.root / "bad" / f"{aside}.reason", (reason + "\n").encode())
            except OSError as move_err:
                warn_limited.warning(f"stuck {sub}", "%s, and it cannot be moved aside: %s", reason, move_err)
                stuck.append(f"{reason} ({move_err})")
                continue
            log.warning("moved aside %s: %s", sub, reason)
            moved.append(sub)
        if stuck:
            raise SpoolError("; ".join(stuck) + ": an admin must look at it", self.root)
        return moved

    def _try_repair(self) -> bool:
        """repair_layout for a running daemon: True if something was moved aside and made again."""
        try:
            return bool(self.repair_layout())
        except SpoolError:
            return False  # logged (rate-limited) by repair_layout; the caller's own error stands

    def _create_marker(self) -> None:
        marker = Marker(FORMAT, f"renderd {__version__} on {socket.gethostname()}", now())
        try:
            fd = os.open(self.root / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return  # someone else set it up at the same moment
        with os.fdopen(fd, "w") as fh:
            fh.write(marker.to_text())
        self.created_layout = True

    def _check_marker(self) -> None:
        marker = self.root / MARKER
        try:  # through the I/O layer: a FIFO planted as the marker must not hang every `render`
            raw = self.io.read(marker, MAX_MARKER_BYTES)
        except OSError as err:
            raise SpoolError(f"unreadable spool marker ({err})", marker) from None
        Marker.from_bytes(raw, marker, reader=f"this renderd {__version__}")

    # -- paths ----------------------------------------------------------------

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def job_dir(self, job: str) -> Path:
        return self.root / "jobs" / job

    def ensure_job_dir(self, job: str, sub: str, mode: int = 0o755) -> Path:
        """`jobs/<job>/<sub>`, made if missing; a symlink anywhere on the way is refused,
        so a hostile spool cannot make a daemon write logs or records outside it."""
        path = self.root
        for part in ("jobs", job, sub):
            path = path / part
            try:
                self.io.mkdir(path, mode)
            except UnsafeEntry as err:
                if part != sub:  # the job's own folder (or jobs/): its chunks cannot be trusted
                    raise BadInfoFile(err.what, path) from None
                # done/, logs/, cancelled/ swapped for a link: moved aside, made again
                self.move_aside(path, f"the job's {sub}/ folder {err.what}")
                warn_limited.warning("moved aside", "moved aside %s: %s", path, err.what)
                self.io.mkdir(path, mode, exist_ok=False)
        return path

    def log_path(self, job: str, chunk: str, host: str, run: int) -> Path:
        return self.job_dir(job) / "logs" / f"{chunk}.{host}.{run}.log"

    def claimed_path(self, claim: ClaimName) -> Path:
        return self.root / "claimed" / claim.filename

    def heartbeat_path(self, claim: ClaimName) -> Path:
        return self.root / "claimed" / (claim.filename + ".hb")

    def lock_path(self, chunk: str) -> Path:
        return self.root / "locks" / f"{chunk}.lock"

    # -- atomic writes --------------------------------------------------------

    def write_atomic(self, dest: Path, data: bytes, durable: bool = True, sync_dir: bool = False) -> None:
        """Write to tmp/ then rename over `dest`: readers see the old or the new file.  `durable`
        fsyncs the data, `sync_dir` also the folder it lands in (records a crash must not lose)."""
        tmp = self.root / "tmp" / f"{dest.name[:80]}.{os.getpid()}.{nonce()}.tmp"
        self.io.write_atomic(dest, data, tmp, durable=durable, sync_dir=sync_dir)

    def read_record(self, path: Path, parse: Callable[[bytes, Path], R], limit: int) -> R | None:
        """A record through its typed reader (renderd.format); None when it is gone, planted or
        too large, or fails validation (one warning line, rate-limited: it is met on every poll)."""
        try:
            raw = self.io.read(path, limit)
        except OSError:
            return None
        try:
            return parse(raw, path)
        except BadRecord as err:
            warn_limited.warning(f"bad record in {path.parent.name}", "ignored %s", err)
            return None

    def unlink(self, path: Path) -> bool:
        """Remove one name of the spool (a symlink itself, never its target)."""
        return self.io.unlink(path)

    # -- reading info files ---------------------------------------------------

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

    # -- jobs -----------------------------------------------------------------

    def write_manifest(self, manifest: Manifest) -> None:
        raw = manifest.to_bytes()  # BadRecord for a job too large to be read back: nothing is written
        jd = self.job_dir(manifest.job)
        for folder in (jd.parent, jd, jd / "done", jd / "logs"):
            self.io.mkdir(folder)
        self.write_atomic(jd / "manifest.json", raw)

    def read_manifest(self, job: str) -> Manifest | None:
        """The job's manifest; None when it has none or it fails validation (logged)."""
        if not valid_name(job):
            return None
        return self.read_record(self.job_dir(job) / "manifest.json", Manifest.from_bytes, MAX_MANIFEST_BYTES)

    def load_manifest(self, job: str) -> Manifest:
        """The job's manifest, or why not: SpoolError (no such job) or BadRecord (unreadable)."""
        path = self.job_dir(job) / "manifest.json"
        try:
            raw = self.io.read(path, MAX_MANIFEST_BYTES) if valid_name(job) else None
        except UnsafeEntry as err:
            raise BadRecord(err.what, path) from None
        except OSError:
            raw = None
        if raw is None:
            raise SpoolError(f"no job {job!r}", self.root)
        return Manifest.from_bytes(raw, path)

    def list_jobs(self) -> list[str]:
        return sorted(n for n in self.names(self.root / "jobs") if valid_name(n))

    def submit(self, manifest: Manifest, chunks: Sequence[ChunkInfo]) -> QueueDir:
        """Write the manifest, then all info files into a staging folder renamed into queue/ at once."""
        self.write_manifest(manifest)
        qdir = QueueDir.build(manifest.job, manifest.priority, manifest.submitted_ms)
        staging = self.root / "tmp" / f"{qdir.name}.{nonce()}.staging"
        self.io.mkdir(staging, exist_ok=False)
        for info in chunks:
            info.note("queued")
        self.io.write_files(staging, ((f"{info.chunk}.info", info.to_bytes()) for info in chunks))
        self.io.fsync_folder(staging)
        self.io.rename(staging, self.root / "queue" / qdir.name, durable=True)
        return qdir

    # -- job control (render cancel / pause / resume / retry / priority / remove) ----

    def job_control(self, job: str) -> JobControl:
        """The job's control flags and who wrote them (the file's owner, not a claim in it)."""
        path = self.job_dir(job) / "control.json"
        try:
            raw, uid = self.io.read_with_owner(path, MAX_CONTROL_BYTES)
        except OSError:
            return JobControl()
        try:
            return JobControl.from_bytes(raw, path, uid=uid)
        except BadRecord as err:
            warn_limited.warning("bad job control", "ignored %s", err)
            return JobControl(uid=uid)

    def write_control(self, job: str, control: JobControl, by: str) -> None:
        self.write_atomic(self.job_dir(job) / "control.json", replace(control, by=by, time=round(now(), 3)).to_bytes())

    def take_over(self, src: Path, why: str) -> Path | None:
        """Move a file we are about to change to a private name in tmp/: exactly one taker wins."""
        mine = self.root / "tmp" / f"{src.name[:80]}.{why}.{os.getpid()}.{nonce()}"
        try:
            self.io.rename(src, mine)
        except FileNotFoundError:
            return None
        return mine

    def record_cancelled(self, src: Path, info: ChunkInfo, old: ChunkState, by: str) -> None:
        """Keep a cancelled chunk as a record in jobs/<job>/cancelled/ (so `retry --missing` can bring it back)."""
        check_transition(old, ChunkState.CANCELLED, info.chunk)
        info.note("cancelled", by)
        try:
            folder = self.ensure_job_dir(info.job, "cancelled", 0o777)  # the owner's `render cancel` writes here too
        except BadInfoFile as err:  # a planted link: the record goes nowhere outside the spool
            raise UnsafeEntry(err.path or src, err.message) from None
        record = CancelledRecord(info.chunk, info.job, round(now(), 3), by, info)
        self.write_atomic(folder / f"{info.chunk}.json", record.to_bytes(), sync_dir=True)
        self.io.unlink(src)

    def cancelled_chunks(self, job: str) -> dict[str, CancelledRecord]:
        return self._records(self.job_dir(job) / "cancelled", CancelledRecord.from_bytes)

    def requeue_record(self, job: str, chunk: str, where: str, old: ChunkState, by: str,
                       frames: tuple[int, int, int] | None = None) -> bool:
        """Bring a done or cancelled chunk back to the queue from the info kept in its record;
        `frames` (start, end, step inside the chunk's own) narrows it to the frames to render again."""
        taken = self.take_over(self.job_dir(job) / where / f"{chunk}.json", "requeue")
        if taken is None:
            return False
        parse = DoneRecord.from_bytes if where == "done" else CancelledRecord.from_bytes
        try:
            record = parse(self.io.read(taken, MAX_RECORD_BYTES), taken)
        except (BadRecord, OSError) as err:
            self.io.rename(taken, self.job_dir(job) / where / f"{chunk}.json")
            why = err.message if isinstance(err, BadRecord) else str(err)
            raise BadInfoFile(f"cannot rebuild chunk {chunk} from its record: {why}") from None
        info = record.info
        if info is None:
            self.io.rename(taken, self.job_dir(job) / where / f"{chunk}.json")
            raise BadInfoFile(f"cannot rebuild chunk {chunk} from its record: it keeps no info")
        if info.chunk != chunk or info.job != job:
            self.io.rename(taken, self.job_dir(job) / where / f"{chunk}.json")
            raise BadInfoFile(f"the record of {chunk} holds chunk {info.chunk}")
        info.attempts, info.failed_hosts = 0, []
        if frames is not None and set(range(frames[0], frames[1] + 1, frames[2])) <= set(info.frames):
            info.start, info.end, info.step = frames
        info.note("retried", by, **({"frames": f"{frames[0]}-{frames[1]}:{frames[2]}"} if frames else {}))
        check_transition(old, ChunkState.QUEUED, chunk)
        staged = self.root / "tmp" / f"{chunk}.info.{nonce()}.new"
        self.io.write_new(staged, info.to_bytes())
        self.move_into_queue(staged, info)
        self.io.unlink(taken)
        return True

    def retry_failed(self, chunk: str, by: str) -> bool:
        """A failed chunk goes back to the queue with its attempts reset."""
        taken = self.take_over(self.root / "failed" / f"{chunk}.info", "retry")
        if taken is None:
            return False
        try:
            info = self.read_info(taken)
        except BadInfoFile as err:
            self.quarantine(taken, err.message, ChunkState.FAILED)
            return False
        info.attempts, info.failed_hosts = 0, []
        info.note("retried", by)
        self.requeue(taken, info, ChunkState.FAILED)
        self.io.unlink(self.root / "failed" / f"{chunk}.info.reason")
        return True

    def set_priority(self, job: str, priority: int) -> None:
        """The queue folder's name holds the priority: rename it (and keep the manifest in step)."""
        manifest = self.load_manifest(job)
        self.write_manifest(manifest.with_priority(priority))
        for qdir in self.queue_dirs():
            if qdir.job != job or qdir.priority == priority:
                continue
            new = QueueDir.build(job, priority, manifest.submitted_ms or qdir.submitted_ms)
            try:
                self.io.rename(self.root / "queue" / qdir.name, self.root / "queue" / new.name)
            except FileNotFoundError:
                continue  # emptied and removed meanwhile
            except OSError:  # the new folder exists already (a chunk came back meanwhile): move files one by one
                for chunk in self.queued_chunks(qdir):
                    try:
                        self.io.rename(self.queue_path(qdir, chunk), self.queue_path(new, chunk))
                    except FileNotFoundError:
                        pass
                self.remove_empty_queue_dir(qdir)

    def drop_failed(self, chunk: str) -> None:
        """`render remove`: a failed chunk and its reason go for good."""
        for suffix in (".info", ".info.reason"):
            self.io.unlink(self.root / "failed" / f"{chunk}{suffix}")

    def remove_job(self, job: str) -> None:
        """Drop a job's folder (manifest, records, logs): renamed away first, so it vanishes at once."""
        if not valid_name(job):
            raise SpoolError(f"not a job id: {job!r}", self.root)
        gone = self.take_over(self.job_dir(job), "removed")
        if gone is not None:
            self.io.remove_tree(gone)

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

    def litter(self) -> dict[str, list[Path]]:
        """What `render clean` may remove once old: rotated event logs, quarantined files (with their
        reasons), lock files and leftovers of interrupted writes in tmp/.

        Only what is provably the spool's own: names in the real layout folders (listed through
        the I/O layer, so a `bad/` or `tmp/` swapped for a link lists nothing), and only names of
        the shapes renderd makes there.  Removal goes through `remove_tree` for the same reason."""
        def own(sub: str, pattern: re.Pattern[str]) -> list[Path]:
            return [self.root / sub / n for n in self.names(self.root / sub) if pattern.match(n)]

        aside = [self.root / n for n in self.names(self.root) if ASIDE_RE.match(n)]
        return {"events": own("events", ROTATED_RE), "bad": own("bad", BAD_RE) + aside,
                "locks": own("locks", LOCK_RE), "tmp": own("tmp", TMP_RE)}

    def tree_size(self, path: Path) -> int:
        """Bytes under `path` (a file or a real folder), counted without following links."""
        return self.io.tree_size(path)

    def remove_tree(self, path: Path) -> None:
        """Remove a name of the spool and, for a real folder, all in it; links are removed, never followed."""
        self.io.remove_tree(path)

    def event_log_path(self, daemon: str) -> Path:
        """events/<daemon>.jsonl; rotated copies are <daemon>.jsonl.1, .2, ..."""
        return self.root / "events" / f"{daemon}.jsonl"

    def stats_log_path(self, daemon: str) -> Path:
        """stats/<daemon>.jsonl (renderd.statslog); rotated copies are <daemon>.jsonl.1, .2, ..."""
        return self.root / "stats" / f"{daemon}.jsonl"

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

    # -- queue ----------------------------------------------------------------

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

    def queue_path(self, qdir: QueueDir, chunk: str) -> Path:
        return self.root / "queue" / qdir.name / f"{chunk}.info"

    def queue_dir_for(self, info: ChunkInfo) -> Path:
        """The queue folder a chunk returns to: its job's current one, or a new one."""
        existing = self.queue_dir_of(info.job)
        if existing is not None:
            return self.root / "queue" / existing.name
        manifest = self.read_manifest(info.job)
        priority = info.priority if manifest is None else manifest.priority
        submitted = int(info.created * 1000) if manifest is None or not manifest.submitted_ms else manifest.submitted_ms
        qdir = QueueDir.build(info.job, priority, submitted)
        path = self.root / "queue" / qdir.name
        self.io.mkdir(path)
        return path

    def requeue(self, src: Path, info: ChunkInfo, old: ChunkState) -> Path:
        """Rewrite a held info file in place, then move it back into the queue."""
        check_transition(old, ChunkState.QUEUED, info.chunk)
        self.write_atomic(src, info.to_bytes())
        return self.move_into_queue(src, info)

    def move_into_queue(self, src: Path, info: ChunkInfo) -> Path:
        for _ in range(20):
            try:
                return self._repairing(lambda: self._into_queue(src, info))
            except FileNotFoundError:
                if not self.io.exists(src):
                    raise
                # a daemon's scan removed the job's queue folder (empty for an instant): make it again
        raise SpoolError(f"cannot put {info.chunk} back in the queue: its folder keeps vanishing", src)

    def _into_queue(self, src: Path, info: ChunkInfo) -> Path:
        dest = self.queue_dir_for(info) / f"{info.chunk}.info"
        self.io.rename(src, dest)
        return dest

    def remove_empty_queue_dir(self, qdir: QueueDir) -> bool:
        """rmdir fails on a non-empty folder, so this never loses a chunk."""
        try:
            self.io.rmdir(self.root / "queue" / qdir.name)
        except OSError:
            return False
        return True

    def fail(self, src: Path, info: ChunkInfo, reason: str, old: ChunkState) -> Path:
        """Rewrite a held info file in place, then move it to failed/ with its reason."""
        check_transition(old, ChunkState.FAILED, info.chunk)
        self.write_atomic(src, info.to_bytes())
        dest = self.root / "failed" / f"{info.chunk}.info"

        def move() -> None:
            self.write_atomic(self.root / "failed" / f"{info.chunk}.info.reason", (reason + "\n").encode())
            self.io.rename(src, dest, durable=True)

        self._repairing(move)
        return dest

    def _repairing(self, step: Callable[[], T]) -> T:
        """Run a move; if a layout folder on its way was swapped for a link (UnsafeEntry), move
        that aside, make the folder again and run it once more.  Nothing goes through the link."""
        try:
            return step()
        except UnsafeEntry:
            if not self._try_repair():
                raise
            return step()

    def quarantine(self, src: Path, reason: str, old: ChunkState = ChunkState.QUEUED) -> Path | None:
        """Move an untrusted file to bad/ (never deleting it) and write why beside it.

        Returns None when another daemon moved it first."""
        check_transition(old, ChunkState.BAD, src.name)
        return self.move_aside(src, reason)

    def move_aside(self, src: Path, reason: str) -> Path | None:
        """Move anything (a file, a planted link, FIFO or folder) to bad/ with its reason; None if
        it was gone.  Nothing is followed, nothing deleted: `render clean` sweeps bad/ later."""
        base = src.name if not src.name.startswith(".") else "_" + src.name
        # A claimed name can reach 250 characters; with '.<nonce>.reason' it must fit in 255.
        dest = self.root / "bad" / f"{base[:200]}.{nonce()}"
        try:
            self._repairing(lambda: self.io.rename(src, dest))
        except FileNotFoundError:
            return None
        self.write_atomic(dest.with_name(dest.name + ".reason"), (reason + "\n").encode())
        return dest

    def open_own(self, path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
        """Open a file of ours at a predictable name (a chunk's log): whatever was planted there
        (a link, a FIFO, a folder) is moved to bad/ first, so it neither blocks nor redirects us."""
        try:
            return self.io.open(path, flags)
        except UnsafeEntry as err:
            if self.move_aside(path, f"planted where renderd writes {path.name}: {err.what}") is not None:
                warn_limited.warning("moved aside", "moved aside %s: %s", path, err.what)
            return self.io.open(path, flags | os.O_EXCL)

    # -- done -----------------------------------------------------------------

    def record_done(self, info: ChunkInfo, record: Mapping[str, Any]) -> None:
        """Write a done record through its reader (what we write must read back)."""
        done = self.ensure_job_dir(info.job, "done")
        # the info rides along so that `render retry --missing` can run the chunk again
        checked = DoneRecord.from_dict({**record, "info": info.as_dict()})
        self.write_atomic(done / f"{info.chunk}.json", checked.to_bytes(), sync_dir=True)

    def done_chunks(self, job: str) -> dict[str, DoneRecord]:
        return self._records(self.job_dir(job) / "done", DoneRecord.from_bytes)

    # -- claimed / failed / bad listings --------------------------------------

    def claims(self) -> list[ClaimName]:
        return [c for c in map(ClaimName.parse, self.names(self.root / "claimed")) if c is not None]

    def failed_chunks(self) -> list[str]:
        return sorted(m["chunk"] for m in map(INFO_RE.match, self.names(self.root / "failed")) if m is not None)

    def failed_reason(self, chunk: str) -> str:
        try:
            raw = self.io.read(self.root / "failed" / f"{chunk}.info.reason", 64 * 1024)
        except OSError:
            return ""
        return raw.decode(errors="replace").strip()

    def bad_files(self) -> list[str]:
        return sorted(n for n in self.names(self.root / "bad") if not n.endswith(".reason"))

    # -- hosts ----------------------------------------------------------------

    def write_host(self, name: str, record: Mapping[str, Any]) -> None:
        path = self.root / "hosts" / f"{name}.json"
        raw = HostRecord.from_dict(dict(record), path).to_bytes()  # through its reader: what others read must pass
        try:
            self.write_atomic(path, raw, durable=False)
        except UnsafeEntry:  # hosts/ or tmp/ swapped for a link while we run: move it aside, once more
            if not self._try_repair():
                raise
            self.write_atomic(path, raw, durable=False)
        self.check_layout()

    def check_layout(self) -> None:
        """Every few seconds (with the host record): a layout folder swapped for a link or a file
        since the last look is moved aside and made again, so one plant does not stop the farm.
        One cached lstat per folder when nothing changed."""
        for sub in LAYOUT:
            try:
                self.io.check_folder(sub)
            except (UnsafeEntry, FileNotFoundError):
                self._try_repair()
                return

    def host_control_path(self, name: str) -> Path:
        """`hosts/<name>.control`: the owner's standing order for a host (pause / drain); read by its daemon."""
        return self.root / "hosts" / f"{name}.control"

    def write_host_control(self, name: str, control: str | None, by: str) -> None:
        """Set (pause / drain) or clear (None) a host's standing order."""
        path = self.host_control_path(name)
        if control is None:
            self.io.unlink(path)
        else:
            self.write_atomic(path, HostControl(control, by, round(now(), 3)).to_bytes())

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


def open_regular(path: Path, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """Open a spool file that must be a plain file: never a symlink, FIFO or device (they could
    point outside the spool or block the reader forever)."""
    return spoolio.open_file(path, flags, mode)


def list_names(folder: Path) -> list[str]:
    """Names in a folder of an opened spool (walked without following links); a missing,
    vanished (ESTALE) or planted (symlinked) folder is empty."""
    sio = spoolio.owner_of(folder)
    try:
        if sio is not None:
            return sio.names(folder)
        with os.scandir(folder) as it:
            return [entry.name for entry in it]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except UnsafeEntry as err:
        warn_limited.warning(f"unsafe folder {folder}", "not listing %s", err)
        return []
    except OSError as err:
        if err.errno != errno.ESTALE:  # NFS/FUSE: another host removed the folder (an emptied job's queue folder)
            raise
        return []
