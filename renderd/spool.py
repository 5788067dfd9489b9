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
import json
import os
import shutil
import socket
import stat
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from renderd import __version__
from renderd.errors import BadInfoFile, SpoolError
from renderd.format import FORMAT as FORMAT
from renderd.format.info import MAX_INFO_BYTES as MAX_INFO_BYTES
from renderd.format.info import MAX_TIMEOUT as MAX_TIMEOUT
from renderd.format.info import ChunkInfo as ChunkInfo
from renderd.format.info import now as now
from renderd.format.info import relative_path_ok as relative_path_ok
from renderd.format.names import INFO_RE, ROTATED_RE
from renderd.format.names import MAX_PRIORITY as MAX_PRIORITY
from renderd.format.names import ClaimName as ClaimName
from renderd.format.names import QueueDir as QueueDir
from renderd.format.names import chunk_id as chunk_id
from renderd.format.names import job_of_chunk as job_of_chunk
from renderd.format.names import nonce as nonce
from renderd.format.names import valid_name as valid_name
from renderd.states import ChunkState, check_transition

MARKER = "renderd-spool.toml"
LAYOUT = ("jobs", "queue", "claimed", "failed", "bad", "hosts", "events", "tmp", "locks")


# --------------------------------------------------------------------------- the spool


def is_spool(path: Path) -> bool:
    return (path / MARKER).is_file()


def read_json(path: Path, limit: int = 16 * 1024 * 1024) -> Any:
    """Read a small JSON file written by renderd; None when it is gone or unreadable."""
    try:
        fd = open_regular(path)  # a FIFO planted here must not hang the reader
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError:
        return None
    if len(raw) > limit:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


class Spool:
    """A spool folder.  `Spool.open(path)` checks the marker; `create=True` lays it out."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.created_layout = False

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
            for sub in LAYOUT:
                (root / sub).mkdir(exist_ok=True)
        return spool

    def _create_marker(self) -> None:
        text = (
            "# This folder is a renderd spool: a render farm queue. See docs/spool-format.md.\n"
            f"format = {FORMAT}\n"
            f'created_by = "renderd {__version__} on {socket.gethostname()}"\n'
            f"created = {now():.0f}\n"
        )
        try:
            fd = os.open(self.root / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return  # someone else set it up at the same moment
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        self.created_layout = True

    def _check_marker(self) -> None:
        marker = self.root / MARKER
        try:
            data = tomllib.loads(marker.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise SpoolError(f"unreadable spool marker ({err})", marker) from None
        fmt = data.get("format")
        if not isinstance(fmt, int) or isinstance(fmt, bool):
            raise SpoolError("spool marker has no format version", marker)
        if fmt > FORMAT:
            raise SpoolError(
                f"spool format {fmt} was made by a newer renderd; this renderd {__version__} "
                f"reads format {FORMAT}: upgrade renderd on this host",
                marker,
            )

    # -- paths ----------------------------------------------------------------

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def job_dir(self, job: str) -> Path:
        return self.root / "jobs" / job

    def ensure_job_dir(self, job: str, sub: str) -> Path:
        """`jobs/<job>/<sub>`, made if missing; a symlink anywhere on the way is refused,
        so a hostile spool cannot make a daemon write logs or records outside it."""
        path = self.root
        for part in ("jobs", job, sub):
            path = path / part
            try:
                os.mkdir(path, 0o755)
            except FileExistsError:
                pass
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise BadInfoFile("is a symbolic link or not a folder", path)
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

    def write_atomic(self, dest: Path, data: bytes, durable: bool = True) -> None:
        """Write to tmp/ then rename over `dest`: readers see the old or the new file."""
        tmp = self.root / "tmp" / f"{dest.name[:80]}.{os.getpid()}.{nonce()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.rename(tmp, dest)
        except BaseException:
            _unlink_quiet(tmp)
            raise

    def write_json(self, dest: Path, data: Any, durable: bool = True) -> None:
        self.write_atomic(dest, (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode(), durable)

    # -- reading info files ---------------------------------------------------

    def read_info(self, path: Path) -> ChunkInfo:
        """Read an info file without following symlinks; BadInfoFile if it cannot be trusted."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise BadInfoFile("is a symbolic link", path) from None
            raise
        # Check before fdopen: it refuses a directory with an OSError, and would leak the fd.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise BadInfoFile("not a regular file", path)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(MAX_INFO_BYTES + 1)
        try:
            return ChunkInfo.from_bytes(raw, path.name)
        except BadInfoFile as err:
            raise BadInfoFile(err.message, path) from None

    # -- jobs -----------------------------------------------------------------

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        job = manifest["job"]
        jd = self.job_dir(job)
        for sub in ("", "done", "logs"):
            (jd / sub).mkdir(parents=True, exist_ok=True)
        self.write_json(jd / "manifest.json", dict(manifest))

    def read_manifest(self, job: str) -> dict[str, Any] | None:
        if not valid_name(job):
            return None
        data = read_json(self.job_dir(job) / "manifest.json")
        return data if isinstance(data, dict) else None

    def list_jobs(self) -> list[str]:
        return sorted(n for n in _names(self.root / "jobs") if valid_name(n))

    def submit(self, manifest: Mapping[str, Any], chunks: Sequence[ChunkInfo]) -> QueueDir:
        """Write the manifest, then all info files into a staging folder renamed into queue/ at once."""
        job = manifest["job"]
        self.write_manifest(manifest)
        qdir = QueueDir.build(job, int(manifest["priority"]), int(manifest["submitted_ms"]))
        staging = self.root / "tmp" / f"{qdir.name}.{nonce()}.staging"
        staging.mkdir()
        for info in chunks:
            info.note("queued")
            _write_new(staging / f"{info.chunk}.info", info.to_bytes())
        os.rename(staging, self.root / "queue" / qdir.name)
        return qdir

    def control(self, job: str) -> dict[str, Any]:
        data = read_json(self.job_dir(job) / "control.json")
        return data if isinstance(data, dict) else {}

    # -- job control (render cancel / pause / resume / retry / priority / remove) ----

    def job_control(self, job: str) -> JobControl:
        """The job's control flags and who wrote them (the file's owner, not a claim in it)."""
        path = self.job_dir(job) / "control.json"
        try:
            fd = open_regular(path)
            with os.fdopen(fd, "rb") as fh:
                uid = os.fstat(fh.fileno()).st_uid
                raw = fh.read(64 * 1024)
        except OSError:
            return JobControl()
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return JobControl(uid=uid)
        if not isinstance(data, dict):
            return JobControl(uid=uid)
        flags = {k: data.get(k) is True for k in ("paused", "now", "cancelled")}
        return JobControl(**flags, uid=uid)

    def write_control(self, job: str, control: JobControl, by: str) -> None:
        data = {"format": FORMAT, "paused": control.paused, "now": control.now, "cancelled": control.cancelled,
                "by": by, "time": round(now(), 3)}
        self.write_json(self.job_dir(job) / "control.json", data)

    def take_over(self, src: Path, why: str) -> Path | None:
        """Move a file we are about to change to a private name in tmp/: exactly one taker wins."""
        mine = self.root / "tmp" / f"{src.name[:80]}.{why}.{os.getpid()}.{nonce()}"
        try:
            os.rename(src, mine)
        except FileNotFoundError:
            return None
        return mine

    def record_cancelled(self, src: Path, info: ChunkInfo, old: ChunkState, by: str) -> None:
        """Keep a cancelled chunk as a record in jobs/<job>/cancelled/ (so `retry --missing` can bring it back)."""
        check_transition(old, ChunkState.CANCELLED, info.chunk)
        info.note("cancelled", by)
        folder = self.job_dir(info.job) / "cancelled"
        folder.mkdir(parents=True, exist_ok=True)
        self.write_json(folder / f"{info.chunk}.json", {"format": FORMAT, "chunk": info.chunk, "job": info.job,
                                                        "time": round(now(), 3), "by": by, "info": asdict(info)})
        _unlink_quiet(src)

    def cancelled_chunks(self, job: str) -> dict[str, dict[str, Any]]:
        return self._records(self.job_dir(job) / "cancelled")

    def requeue_record(self, job: str, chunk: str, where: str, old: ChunkState, by: str) -> bool:
        """Bring a done or cancelled chunk back to the queue from the info kept in its record."""
        taken = self.take_over(self.job_dir(job) / where / f"{chunk}.json", "requeue")
        if taken is None:
            return False
        record = read_json(taken, MAX_INFO_BYTES)
        try:
            info = ChunkInfo.from_bytes(json.dumps(record["info"]).encode())
        except (BadInfoFile, KeyError, TypeError) as err:
            os.rename(taken, self.job_dir(job) / where / f"{chunk}.json")
            raise BadInfoFile(f"cannot rebuild chunk {chunk} from its record: {err}") from None
        if info.chunk != chunk or info.job != job:
            os.rename(taken, self.job_dir(job) / where / f"{chunk}.json")
            raise BadInfoFile(f"the record of {chunk} holds chunk {info.chunk}")
        info.attempts, info.failed_hosts = 0, []
        info.note("retried", by)
        check_transition(old, ChunkState.QUEUED, chunk)
        staged = self.root / "tmp" / f"{chunk}.info.{nonce()}.new"
        _write_new(staged, info.to_bytes())
        self.move_into_queue(staged, info)
        _unlink_quiet(taken)
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
        _unlink_quiet(self.root / "failed" / f"{chunk}.info.reason")
        return True

    def set_priority(self, job: str, priority: int) -> None:
        """The queue folder's name holds the priority: rename it (and keep the manifest in step)."""
        manifest = self.read_manifest(job)
        if manifest is None:
            raise SpoolError(f"no job {job!r}", self.root)
        manifest["priority"] = priority
        self.write_manifest(manifest)
        submitted = manifest.get("submitted_ms")
        for qdir in self.queue_dirs():
            if qdir.job != job or qdir.priority == priority:
                continue
            new = QueueDir.build(job, priority, submitted if isinstance(submitted, int) else qdir.submitted_ms)
            try:
                os.rename(self.root / "queue" / qdir.name, self.root / "queue" / new.name)
            except FileNotFoundError:
                continue  # emptied and removed meanwhile
            except OSError:  # the new folder exists already (a chunk came back meanwhile): move files one by one
                for chunk in self.queued_chunks(qdir):
                    try:
                        os.rename(self.queue_path(qdir, chunk), self.queue_path(new, chunk))
                    except FileNotFoundError:
                        pass
                self.remove_empty_queue_dir(qdir)

    def drop_failed(self, chunk: str) -> None:
        """`render remove`: a failed chunk and its reason go for good."""
        for suffix in (".info", ".info.reason"):
            _unlink_quiet(self.root / "failed" / f"{chunk}{suffix}")

    def remove_job(self, job: str) -> None:
        """Drop a job's folder (manifest, records, logs): renamed away first, so it vanishes at once."""
        if not valid_name(job):
            raise SpoolError(f"not a job id: {job!r}", self.root)
        gone = self.take_over(self.job_dir(job), "removed")
        if gone is not None:
            shutil.rmtree(gone, ignore_errors=True)

    def chunk_logs(self, job: str, chunk: str) -> list[Path]:
        """Every log of a chunk (`<chunk>.<host>.<run>.log`: any host, any attempt), oldest first."""
        folder = self.job_dir(job) / "logs"
        found = []
        for name in _names(folder):
            if name.startswith(chunk + ".") and name.endswith(".log") and valid_name(name):
                try:
                    found.append((os.lstat(folder / name).st_mtime, folder / name))
                except FileNotFoundError:
                    continue
        return [path for _, path in sorted(found)]

    def job_logs(self, job: str) -> list[Path]:
        folder = self.job_dir(job) / "logs"
        return [folder / n for n in _names(folder) if n.endswith(".log") and valid_name(n)]

    def litter(self) -> dict[str, list[Path]]:
        """What `render clean` may remove once old: rotated event logs, quarantined files (with their
        reasons), lock files and leftovers of interrupted writes in tmp/."""
        return {
            "events": [self.root / "events" / n for n in _names(self.root / "events") if ROTATED_RE.match(n)],
            "bad": [self.root / "bad" / n for n in _names(self.root / "bad")],
            "locks": [self.root / "locks" / n for n in _names(self.root / "locks") if n.endswith(".lock")],
            "tmp": [self.root / "tmp" / n for n in _names(self.root / "tmp")],
        }

    def event_log_path(self, daemon: str) -> Path:
        """events/<daemon>.jsonl; rotated copies are <daemon>.jsonl.1, .2, ..."""
        return self.root / "events" / f"{daemon}.jsonl"

    def event_logs(self) -> list[Path]:
        """The current event log of every daemon (not the rotated ones)."""
        return sorted(self.root / "events" / n for n in _names(self.root / "events")
                      if n.endswith(".jsonl") and valid_name(n[:-6]))

    def _records(self, folder: Path) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name in _names(folder):
            if name.endswith(".json") and valid_name(name[:-5]):
                rec = read_json(folder / name, 1024 * 1024)
                out[name[:-5]] = rec if isinstance(rec, dict) else {}
        return out

    # -- queue ----------------------------------------------------------------

    def queue_dirs(self) -> list[QueueDir]:
        """Job folders in the queue, highest priority first, then oldest."""
        dirs = [q for q in map(QueueDir.parse, _names(self.root / "queue")) if q is not None]
        return sorted(dirs, key=lambda q: q.name)

    def queue_dir_of(self, job: str) -> QueueDir | None:
        for q in self.queue_dirs():
            if q.job == job:
                return q
        return None

    def queued_chunks(self, qdir: QueueDir) -> list[str]:
        """Chunk ids queued in one job folder, in order; foreign names are ignored."""
        out = []
        for name in _names(self.root / "queue" / qdir.name):
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
        manifest = self.read_manifest(info.job) or {}
        priority = manifest.get("priority", info.priority)
        submitted = manifest.get("submitted_ms", int(info.created * 1000))
        if not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
            priority = info.priority
        if not isinstance(submitted, int) or not 0 <= submitted < 10**13:  # 13 digits in the folder name
            submitted = int(info.created * 1000)
        qdir = QueueDir.build(info.job, priority, submitted)
        path = self.root / "queue" / qdir.name
        path.mkdir(exist_ok=True)
        return path

    def requeue(self, src: Path, info: ChunkInfo, old: ChunkState) -> Path:
        """Rewrite a held info file in place, then move it back into the queue."""
        check_transition(old, ChunkState.QUEUED, info.chunk)
        self.write_atomic(src, info.to_bytes())
        return self.move_into_queue(src, info)

    def move_into_queue(self, src: Path, info: ChunkInfo) -> Path:
        for _ in range(20):
            dest = self.queue_dir_for(info) / f"{info.chunk}.info"
            try:
                os.rename(src, dest)
                return dest
            except FileNotFoundError:
                if not os.path.lexists(src):
                    raise
                # a daemon's scan removed the job's queue folder (empty for an instant): make it again
        raise SpoolError(f"cannot put {info.chunk} back in the queue: its folder keeps vanishing", src)

    def remove_empty_queue_dir(self, qdir: QueueDir) -> bool:
        """rmdir fails on a non-empty folder, so this never loses a chunk."""
        try:
            os.rmdir(self.root / "queue" / qdir.name)
        except OSError:
            return False
        return True

    def fail(self, src: Path, info: ChunkInfo, reason: str, old: ChunkState) -> Path:
        """Rewrite a held info file in place, then move it to failed/ with its reason."""
        check_transition(old, ChunkState.FAILED, info.chunk)
        self.write_atomic(src, info.to_bytes())
        dest = self.root / "failed" / f"{info.chunk}.info"
        self.write_atomic(self.root / "failed" / f"{info.chunk}.info.reason", (reason + "\n").encode())
        os.rename(src, dest)
        return dest

    def quarantine(self, src: Path, reason: str, old: ChunkState = ChunkState.QUEUED) -> Path | None:
        """Move an untrusted file to bad/ (never deleting it) and write why beside it.

        Returns None when another daemon moved it first."""
        check_transition(old, ChunkState.BAD, src.name)
        base = src.name if not src.name.startswith(".") else "_" + src.name
        # A claimed name can reach 250 characters; with '.<nonce>.reason' it must fit in 255.
        dest = self.root / "bad" / f"{base[:200]}.{nonce()}"
        try:
            os.rename(src, dest)
        except FileNotFoundError:
            return None
        self.write_atomic(dest.with_name(dest.name + ".reason"), (reason + "\n").encode())
        return dest

    # -- done -----------------------------------------------------------------

    def record_done(self, info: ChunkInfo, record: Mapping[str, Any]) -> None:
        done = self.ensure_job_dir(info.job, "done")
        # the info rides along so that `render retry --missing` can run the chunk again
        self.write_json(done / f"{info.chunk}.json", {**record, "info": info.as_dict()})

    def done_chunks(self, job: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        done = self.job_dir(job) / "done"
        for name in _names(done):
            if name.endswith(".json") and valid_name(name[:-5]):
                rec = read_json(done / name, 1024 * 1024)
                out[name[:-5]] = rec if isinstance(rec, dict) else {}
        return out

    # -- claimed / failed / bad listings --------------------------------------

    def claims(self) -> list[ClaimName]:
        return [c for c in map(ClaimName.parse, _names(self.root / "claimed")) if c is not None]

    def failed_chunks(self) -> list[str]:
        return sorted(m["chunk"] for m in map(INFO_RE.match, _names(self.root / "failed")) if m is not None)

    def failed_reason(self, chunk: str) -> str:
        try:
            return (self.root / "failed" / f"{chunk}.info.reason").read_text(errors="replace").strip()
        except OSError:
            return ""

    def bad_files(self) -> list[str]:
        return sorted(n for n in _names(self.root / "bad") if not n.endswith(".reason"))

    # -- hosts ----------------------------------------------------------------

    def write_host(self, name: str, record: Mapping[str, Any]) -> None:
        self.write_json(self.root / "hosts" / f"{name}.json", dict(record), durable=False)

    def host_control_path(self, name: str) -> Path:
        """`hosts/<name>.control`: the owner's standing order for a host (pause / drain); read by its daemon."""
        return self.root / "hosts" / f"{name}.control"

    def write_host_control(self, name: str, control: str | None, by: str) -> None:
        """Set (pause / drain) or clear (None) a host's standing order."""
        path = self.host_control_path(name)
        if control is None:
            _unlink_quiet(path)
        else:
            self.write_json(path, {"format": FORMAT, "control": control, "by": by, "time": round(now(), 3)})

    def hosts(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for fname in _names(self.root / "hosts"):
            if fname.endswith(".json") and valid_name(fname[:-5]):
                rec = read_json(self.root / "hosts" / fname, 1024 * 1024)
                if isinstance(rec, dict):
                    out[fname[:-5]] = rec
        return out


@dataclass(frozen=True)
class JobControl:
    """jobs/<job>/control.json: what the owner asked of a job (`uid` is who wrote the file)."""

    paused: bool = False
    now: bool = False  # pause --now: suspend running chunks too
    cancelled: bool = False
    uid: int = -1

    @property
    def holds(self) -> bool:
        """No new claims for this job."""
        return self.paused or self.cancelled


HOST_STALE_AFTER = 30.0


def host_is_live(record: Mapping[str, Any], at: float | None = None) -> bool:
    """A host is live while its record was refreshed recently and it did not sign off."""
    beat = record.get("heartbeat")
    if not isinstance(beat, (int, float)) or record.get("state") == "offline":
        return False
    stale_after = record.get("stale_after", HOST_STALE_AFTER)
    if not isinstance(stale_after, (int, float)):
        stale_after = HOST_STALE_AFTER
    return bool((at if at is not None else now()) - beat < stale_after)


def open_regular(path: Path, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """Open a spool file that must be a plain file: never a symlink, FIFO or device (they could
    point outside the spool or block the reader forever)."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return fd


def _names(folder: Path) -> Iterator[str]:
    """Names in a folder (no stat per entry); a missing folder is empty."""
    try:
        with os.scandir(folder) as it:
            for entry in it:
                yield entry.name
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as err:
        if err.errno != errno.ESTALE:  # NFS/FUSE: another host removed the folder (an emptied job's queue folder)
            raise


def list_names(folder: Path) -> list[str]:
    return list(_names(folder))


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _unlink_quiet(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
