"""Every change of the spool: submitting a job, moving a chunk between states, writing records.

A chunk's state is the folder its file is in, so a state change is a rename, and every one goes
through `move(held, to)`, the one place that checks states.TRANSITIONS.  Each move is
write-then-rename (nq's rule: a reader sees the old file or the new one, never half), and the
renames a crash must not undo (a submitted job, failed/, done and cancelled records) fsync the
folder they land in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from renderd.errors import BadInfoFile, BadRecord, IllegalTransition, SpoolError
from renderd.format.control import HostControl, JobControl
from renderd.format.done import MAX_RECORD_BYTES, CancelledRecord, DoneRecord
from renderd.format.host import HostRecord
from renderd.format.info import ChunkInfo, now
from renderd.format.manifest import Manifest
from renderd.format.names import QueueDir, nonce, valid_name
from renderd.spool.base import warn_limited
from renderd.spool.housekeeping import Housekeeping
from renderd.spool.io import UnsafeEntry
from renderd.states import ChunkState, check_transition

_S = ChunkState


class Moves(Housekeeping):
    def move(self, held: Path, to: ChunkState, info: ChunkInfo | None = None, *, old: ChunkState | None = None,
             dest: Path | None = None, reason: str = "", by: str = "",
             record: Mapping[str, Any] | None = None) -> Path | None:
        """Move a chunk's file to state `to`, after checking the transition; where it went (None:
        gone meanwhile, another daemon moved it first).

        `old` defaults to what the path says (layout.state_of); a file taken over into tmp/ says
        nothing, so its taker passes it.  What each state needs:
          QUEUED     `info`: rewritten in place, then renamed into its job's queue folder
          CLAIMED    `dest`: a unique claimed/ name (one taker wins the rename)
          FAILED     `info` and `reason`: rewritten, the reason beside it, renamed to failed/
          BAD        `reason`: moved to bad/ as it is (never opened, never deleted)
          CANCELLED  `info` and `by`: kept as a record in jobs/<job>/cancelled/, then removed
          DONE       `info` and `record`: the done record (the claim goes with claim.py's fence)"""
        was = old if old is not None else self.state_of(held)
        if was is None:
            raise IllegalTransition(f"{held} is not where a chunk's state is kept: its taker must say what it was")
        check_transition(was, to, info.chunk if info is not None else held.name)
        if to is _S.CLAIMED:
            if dest is None:
                raise ValueError("a claim needs its claimed/ name")
            self.io.rename(held, dest)
            return dest
        if to is _S.BAD:
            return self.move_aside(held, reason)
        if info is None:
            raise ValueError(f"a move to {to.value} needs the chunk's info")
        if to is _S.QUEUED:
            self.write_atomic(held, info.to_bytes())
            return self.move_into_queue(held, info)
        if to is _S.FAILED:
            return self._to_failed(held, info, reason)
        if to is _S.CANCELLED:
            return self._to_cancelled(held, info, by)
        return self._to_done(info, record or {})

    # -- the state changes behind move() ----------------------------------------------

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

    def remove_empty_queue_dir(self, qdir: QueueDir) -> bool:
        """rmdir fails on a non-empty folder, so this never loses a chunk."""
        try:
            self.io.rmdir(self.root / "queue" / qdir.name)
        except OSError:
            return False
        return True

    def _to_failed(self, src: Path, info: ChunkInfo, reason: str) -> Path:
        self.write_atomic(src, info.to_bytes())
        dest = self.failed_path(info.chunk)

        def step() -> None:
            self.write_atomic(self.failed_reason_path(info.chunk), (reason + "\n").encode())
            self.io.rename(src, dest, durable=True)

        self._repairing(step)
        return dest

    def _to_cancelled(self, src: Path, info: ChunkInfo, by: str) -> Path:
        info.note("cancelled", by)
        try:
            folder = self.ensure_job_dir(info.job, "cancelled", 0o777)  # the owner's `render cancel` writes here too
        except BadInfoFile as err:  # a planted link: the record goes nowhere outside the spool
            raise UnsafeEntry(err.path or src, err.message) from None
        record = CancelledRecord(info.chunk, info.job, round(now(), 3), by, info)
        dest = folder / f"{info.chunk}.json"
        self.write_atomic(dest, record.to_bytes(), sync_dir=True)
        self.io.unlink(src)
        return dest

    def _to_done(self, info: ChunkInfo, record: Mapping[str, Any]) -> Path:
        """The done record, through its reader (what we write must read back); the info rides
        along so that `render retry --missing` can run the chunk again."""
        folder = self.ensure_job_dir(info.job, "done")
        checked = DoneRecord.from_dict({**record, "info": info.as_dict()})
        dest = folder / f"{info.chunk}.json"
        self.write_atomic(dest, checked.to_bytes(), sync_dir=True)
        return dest

    # -- the names callers know (each one move) ---------------------------------------

    def requeue(self, src: Path, info: ChunkInfo, old: ChunkState) -> Path:
        """Rewrite a held info file in place, then move it back into the queue."""
        dest = self.move(src, _S.QUEUED, info, old=old)
        assert dest is not None
        return dest

    def fail(self, src: Path, info: ChunkInfo, reason: str, old: ChunkState) -> Path:
        """Rewrite a held info file in place, then move it to failed/ with its reason."""
        dest = self.move(src, _S.FAILED, info, old=old, reason=reason)
        assert dest is not None
        return dest

    def quarantine(self, src: Path, reason: str, old: ChunkState = _S.QUEUED) -> Path | None:
        """Move an untrusted file to bad/ (never deleting it) and write why beside it.

        Returns None when another daemon moved it first."""
        return self.move(src, _S.BAD, old=old, reason=reason)

    def record_cancelled(self, src: Path, info: ChunkInfo, old: ChunkState, by: str) -> None:
        """Keep a cancelled chunk as a record in jobs/<job>/cancelled/ (so `retry --missing` can bring it back)."""
        self.move(src, _S.CANCELLED, info, old=old, by=by)

    def record_done(self, info: ChunkInfo, record: Mapping[str, Any], held: Path | None = None) -> None:
        """Write a done record (checked: a claimed chunk may become done)."""
        self.move(held or self.root / "claimed" / f"{info.chunk}.info", _S.DONE, info, old=_S.CLAIMED,
                  record=record)

    def take_over(self, src: Path, why: str) -> Path | None:
        """Move a file we are about to change to a private name in tmp/: exactly one taker wins."""
        mine = self.root / "tmp" / f"{src.name[:80]}.{why}.{os.getpid()}.{nonce()}"
        try:
            self.io.rename(src, mine)
        except FileNotFoundError:
            return None
        return mine

    def requeue_record(self, job: str, chunk: str, where: str, old: ChunkState, by: str,
                       frames: tuple[int, int, int] | None = None) -> bool:
        """Bring a done or cancelled chunk back to the queue from the info kept in its record;
        `frames` (start, end, step inside the chunk's own) narrows it to the frames to render again."""
        home = self.job_dir(job) / where / f"{chunk}.json"
        taken = self.take_over(home, "requeue")
        if taken is None:
            return False
        parse = DoneRecord.from_bytes if where == "done" else CancelledRecord.from_bytes
        try:
            info = parse(self.io.read(taken, MAX_RECORD_BYTES), taken).info
            if info is None:
                raise BadRecord("it keeps no info", taken)
            if info.chunk != chunk or info.job != job:
                raise BadRecord(f"it holds chunk {info.chunk}", taken)
        except (BadRecord, OSError) as err:
            self.io.rename(taken, home)
            why = err.message if isinstance(err, BadRecord) else str(err)
            raise BadInfoFile(f"cannot rebuild chunk {chunk} from its record: {why}") from None
        info.attempts, info.failed_hosts = 0, []
        if frames is not None and set(range(frames[0], frames[1] + 1, frames[2])) <= set(info.frames):
            info.start, info.end, info.step = frames
        info.note("retried", by, **({"frames": f"{frames[0]}-{frames[1]}:{frames[2]}"} if frames else {}))
        self.move(self.root / "tmp" / f"{chunk}.info.{nonce()}.new", _S.QUEUED, info, old=old)
        self.io.unlink(taken)
        return True

    def retry_failed(self, chunk: str, by: str) -> bool:
        """A failed chunk goes back to the queue with its attempts reset."""
        taken = self.take_over(self.failed_path(chunk), "retry")
        if taken is None:
            return False
        try:
            info = self.read_info(taken)
        except BadInfoFile as err:
            self.quarantine(taken, err.message, _S.FAILED)
            return False
        info.attempts, info.failed_hosts = 0, []
        info.note("retried", by)
        self.requeue(taken, info, _S.FAILED)
        self.io.unlink(self.failed_reason_path(chunk))
        return True

    def drop_failed(self, chunk: str) -> None:
        """`render remove`: a failed chunk and its reason go for good."""
        self.io.unlink(self.failed_path(chunk))
        self.io.unlink(self.failed_reason_path(chunk))

    # -- jobs -------------------------------------------------------------------------

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

    def write_manifest(self, manifest: Manifest) -> None:
        raw = manifest.to_bytes()  # BadRecord for a job too large to be read back: nothing is written
        jd = self.job_dir(manifest.job)
        for folder in (jd.parent, jd, jd / "done", jd / "logs", jd / "failures"):  # failures/: the blocklist
            self.io.mkdir(folder)
        self.write_atomic(jd / "manifest.json", raw)

    def write_control(self, job: str, control: JobControl, by: str) -> None:
        self.write_atomic(self.control_path(job), replace(control, by=by, time=round(now(), 3)).to_bytes())

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

    def remove_job(self, job: str) -> None:
        """Drop a job's folder (manifest, records, logs): renamed away first, so it vanishes at once."""
        if not valid_name(job):
            raise SpoolError(f"not a job id: {job!r}", self.root)
        gone = self.take_over(self.job_dir(job), "removed")
        if gone is not None:
            self.io.remove_tree(gone)

    def open_own(self, path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
        """Open a file of ours at a predictable name (a chunk's log): whatever was planted there
        (a link, a FIFO, a folder) is moved to bad/ first, so it neither blocks nor redirects us."""
        try:
            return self.io.open(path, flags)
        except UnsafeEntry as err:
            if self.move_aside(path, f"planted where renderd writes {path.name}: {err.what}") is not None:
                warn_limited.warning("moved aside", "moved aside %s: %s", path, err.what)
            return self.io.open(path, flags | os.O_EXCL)

    # -- hosts ------------------------------------------------------------------------

    def write_host(self, name: str, record: Mapping[str, Any]) -> None:
        path = self.host_path(name)
        raw = HostRecord.from_dict(dict(record), path).to_bytes()  # through its reader: what others read must pass
        self._repairing(lambda: self.write_atomic(path, raw, durable=False))  # hosts/ or tmp/ swapped for a link
        self.check_layout()

    def write_host_control(self, name: str, control: str | None, by: str) -> None:
        """Set (pause / drain) or clear (None) a host's standing order."""
        path = self.host_control_path(name)
        if control is None:
            self.io.unlink(path)
        else:
            self.write_atomic(path, HostControl(control, by, round(now(), 3)).to_bytes())
