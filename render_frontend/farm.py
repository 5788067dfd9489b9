"""A snapshot of the farm read from the spool: jobs and their chunks by state, hosts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd.errors import BadRecord, SpoolError
from renderd.format.control import JobControl
from renderd.format.done import CancelledRecord, DoneRecord
from renderd.format.host import HostRecord
from renderd.format.manifest import Manifest
from renderd.format.names import job_of_chunk
from renderd.kinds import blender
from renderd.spool import Spool


@dataclass
class JobView:
    job: str
    manifest: Manifest
    queued: list[str] = field(default_factory=list)
    running: dict[str, str] = field(default_factory=dict)  # chunk -> host
    done: dict[str, DoneRecord] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    cancelled: dict[str, CancelledRecord] = field(default_factory=dict)
    control: JobControl = field(default_factory=JobControl)
    started: dict[str, float] = field(default_factory=dict)  # running chunk -> start time (host records)

    @property
    def total(self) -> int:
        return len(self.manifest.chunks)

    @property
    def active(self) -> bool:
        return bool(self.queued or self.running)

    @property
    def state(self) -> str:
        if self.control.cancelled:
            return "cancelling" if self.running else "cancelled"
        if self.control.paused:
            return "paused"
        if self.running:
            return "running"
        if self.queued:
            return "queued"
        if self.failed or self.bad:
            return "failed"
        return "done" if len(self.done) >= self.total else "incomplete"

    @property
    def hosts(self) -> list[str]:
        return sorted(set(self.running.values()) | {d.host for d in self.done.values() if d.host})

    def frames_done(self) -> int:
        """Frames of the done chunks, as the manifest lists them: a chunk re-rendered for its missing
        frames only (retry --missing) is whole again, though its record names fewer frames."""
        listed = self.manifest.chunk_frames()
        return sum(len(listed[c]) if c in listed else d.frames for c, d in self.done.items())

    def chunk_frames(self) -> dict[str, list[int]]:
        """Every chunk of the manifest and its frames."""
        return {chunk: list(frames) for chunk, frames in self.manifest.chunk_frames().items()}

    def vanished(self, spool_root: Path) -> list[str]:
        """Done chunks some of whose saved files (read from the render's output) are gone."""
        return sorted(self.vanished_frames(spool_root))

    def vanished_frames(self, spool_root: Path) -> dict[str, list[int]]:
        """Done chunk -> its frames whose saved files are gone (per frame where the record tells).

        A Blender chunk saves its frames in order, the same number of files each (one, or one
        per view or output node), so `saved` maps onto `frames` in slices; where it does not (a
        record cut at MAX_SAVED, or files that are not per frame), a missing file counts against
        the whole chunk as before."""
        out: dict[str, list[int]] = {}
        for chunk, rec in self.done.items():
            if not rec.saved:
                continue
            cwd = spool_root / (rec.info.cwd if rec.info is not None else "")
            gone = [not (cwd / p).exists() for p in rec.saved]
            if not any(gone):
                continue
            frames = list(range(rec.start, rec.end + 1, rec.step))  # the frames this record's run rendered
            per = len(rec.saved) // len(frames) if frames and len(rec.saved) % len(frames) == 0 else 0
            if per:
                out[chunk] = [f for i, f in enumerate(frames) if any(gone[i * per:(i + 1) * per])]
            else:
                out[chunk] = list(frames)
        return out

    def missing_frames(self, vanished: list[str] | dict[str, list[int]]) -> list[int]:
        """Frames that are not (or no longer) rendered: not done, or done but their files vanished
        (only those frames, when `vanished` says which: vanished_frames)."""
        per_frame = vanished if isinstance(vanished, dict) else {c: None for c in vanished}
        missing: set[int] = set()
        for chunk, frames in self.chunk_frames().items():
            if chunk not in self.done:
                missing.update(frames)
            elif chunk in per_frame:
                gone = per_frame[chunk]
                missing.update(frames if gone is None else gone)
        return sorted(missing)

    def frame_seconds(self) -> list[float]:
        """Seconds per frame of every finished frame (the render's own times where it told them)."""
        out: list[float] = []
        for rec in self.done.values():
            if rec.frame_times:
                out.extend(rec.frame_times)
            elif rec.seconds is not None and rec.frames:  # the time suspended is not the frames' own
                working = max(rec.seconds - rec.suspended, 0.0)
                out.extend([working / rec.frames] * min(rec.frames, 100_000))
        return out

    def timing(self, at: float | None = None) -> dict[str, Any]:
        """Elapsed, ETA and slowest/fastest/average frame time (seconds; None where unknown)."""
        at = time.time() if at is None else at
        starts = [r.started for r in self.done.values() if r.started is not None]
        starts += [t for c, t in self.started.items() if c in self.running]
        starts += [t for r in self.cancelled.values() for t in _ran_at(r)]
        ends = [r.finished for r in self.done.values() if r.finished is not None]
        # a cancel ends the job too: without its time, elapsed fell back to the last done chunk's end
        ends += [r.time for r in self.cancelled.values() if r.time is not None]
        first = min(starts, default=None)
        end = at if self.active or not ends else max(ends)
        suspended = sum(r.suspended for r in self.done.values())
        per_frame = self.frame_seconds()
        average = sum(per_frame) / len(per_frame) if per_frame else None
        left = self.manifest.frames - self.frames_done()
        eta = None
        if average is not None and self.active and not self.control.holds:
            eta = round(left * average / max(1, len(self.running)), 1)
        return {
            "elapsed": None if first is None else round(max(end - first, 0.0), 1),
            "suspended": round(suspended, 1),  # of the finished chunks' run time, seconds spent suspended
            "eta": eta,
            "frame_time": {
                "average": None if average is None else round(average, 3),
                "fastest": round(min(per_frame), 3) if per_frame else None,
                "slowest": round(max(per_frame), 3) if per_frame else None,
            },
        }

    def to_json(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "job": self.job,
            "name": m.name,
            "kind": m.kind,
            "owner": m.owner,
            "priority": m.priority,
            "created": m.created,
            "state": self.state,
            "chunks": {
                "total": self.total,
                "queued": len(self.queued),
                "running": len(self.running),
                "done": len(self.done),
                "failed": len(self.failed),
                "bad": len(self.bad),
                "cancelled": len(self.cancelled),
            },
            "frames": {"total": m.frames, "done": self.frames_done()},
            "paused": self.control.paused,
            "cancelled": self.control.cancelled,
            **self.timing(),
            "hosts": self.hosts,
            "running": [{"chunk": c, "host": h} for c, h in sorted(self.running.items())],
            "failed": self.failed,
            "bad": self.bad,
        }


@dataclass
class Farm:
    jobs: dict[str, JobView]
    hosts: dict[str, HostRecord]
    taken_at: float
    unreadable: dict[str, str] = field(default_factory=dict)  # job -> why its manifest cannot be read

    def live_hosts(self) -> dict[str, HostRecord]:
        return {n: r for n, r in self.hosts.items() if r.is_live(self.taken_at)}


def snapshot(spool: Spool, only_job: str | None = None) -> Farm:
    """Read the whole farm state (or one job's) from the spool."""
    names = [only_job] if only_job else spool.list_jobs()
    jobs: dict[str, JobView] = {}
    unreadable: dict[str, str] = {}
    for job in names:
        try:
            manifest = spool.load_manifest(job)
        except SpoolError:
            continue  # no such job (or its folder holds no manifest yet)
        except BadRecord as err:
            unreadable[job] = err.message
            continue
        else:
            new = JobView(job, manifest, control=spool.job_control(job))
            # records of chunks the job does not have (planted, or left by hand) are not its own
            chunks = new.chunk_frames()
            new.done = {c: r for c, r in spool.done_chunks(job).items() if c in chunks}
            new.cancelled = {c: r for c, r in spool.cancelled_chunks(job).items() if c in chunks}
            jobs[job] = new
    for qdir in spool.queue_dirs():
        if qdir.job in jobs:
            jobs[qdir.job].queued.extend(spool.queued_chunks(qdir))
    for claim in spool.claims():
        view = jobs.get(claim.job)
        if view is not None:
            view.running[claim.chunk] = claim.host
    hosts = spool.hosts()
    for rec in hosts.values():
        for entry in rec.chunks:
            view = jobs.get(entry.job)
            if view is not None and entry.started is not None:
                view.started[entry.chunk] = entry.started
    for chunk in spool.failed_chunks():
        view = jobs.get(job_of_chunk(chunk))
        if view is not None:
            view.failed.append(chunk)
    for name in spool.bad_files():
        for job, view in jobs.items():
            if name.startswith(job + "-"):
                view.bad.append(name)
    # A chunk in two places for an instant (a move seen half-way) counts once, in its later state.
    for view in jobs.values():
        view.queued = [c for c in dict.fromkeys(view.queued) if c not in view.running and c not in view.done]
    return Farm(jobs, hosts, time.time(), unreadable)


def who_can_run(farm: Farm, view: JobView) -> list[str]:
    """Live hosts that accept this job's kind of chunk."""
    kind = view.manifest.kind
    out = []
    for name, rec in farm.live_hosts().items():
        if kind == "command" and not rec.allow_commands:
            continue
        if kind == "encode" and not rec.ffmpeg:
            continue
        if kind == "blender" and blender_refusal(view.manifest, rec) is not None:
            continue
        out.append(name)
    return out


def blender_refusal(manifest: Manifest, host: HostRecord) -> str | None:
    """Why a host (its record) cannot render a Blender job: too old a Blender, or no --allow-scripts."""
    blend = manifest.blend
    need = None if blend is None else blend.version
    trust = blend is not None and blend.trust_scripts
    return blender.refusal(need, trust, host.blender_version, host.allow_scripts)


def _ran_at(record: CancelledRecord) -> list[float]:
    """When a cancelled chunk had started running (the daemon notes `ran` in its history)."""
    return [] if record.info is None else record.info.history_times("ran", key="started")
