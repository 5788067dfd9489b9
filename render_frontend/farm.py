"""A snapshot of the farm read from the spool: jobs and their chunks by state, hosts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd.kinds import blender
from renderd.spool import JobControl, Spool, host_is_live, job_of_chunk


@dataclass
class JobView:
    job: str
    manifest: dict[str, Any]
    queued: list[str] = field(default_factory=list)
    running: dict[str, str] = field(default_factory=dict)  # chunk -> host
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    cancelled: dict[str, dict[str, Any]] = field(default_factory=dict)
    control: JobControl = field(default_factory=JobControl)
    started: dict[str, float] = field(default_factory=dict)  # running chunk -> start time (host records)

    @property
    def total(self) -> int:
        chunks = self.manifest.get("chunks")
        return len(chunks) if isinstance(chunks, list) else 0

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
        return sorted(set(self.running.values()) | {str(d.get("host")) for d in self.done.values() if d.get("host")})

    def frames_done(self) -> int:
        return sum(int(d.get("frames", 0)) for d in self.done.values() if isinstance(d.get("frames", 0), int))

    def chunk_frames(self) -> dict[str, list[int]]:
        """Every chunk of the manifest and its frames."""
        out: dict[str, list[int]] = {}
        for entry in self.manifest.get("chunks") or []:
            if isinstance(entry, dict) and all(isinstance(entry.get(k), int) for k in ("start", "end", "step")):
                if entry["step"] > 0 and isinstance(entry.get("chunk"), str):
                    out[entry["chunk"]] = list(range(entry["start"], entry["end"] + 1, entry["step"]))
        return out

    def vanished(self, spool_root: Path) -> list[str]:
        """Done chunks whose saved files (read from the render's output) are gone."""
        out = []
        for chunk, rec in self.done.items():
            saved = rec.get("saved")
            if not isinstance(saved, list) or not saved:
                continue
            info = rec.get("info")
            cwd = spool_root / str(info.get("cwd") or "" if isinstance(info, dict) else "")
            if not all(isinstance(p, str) and (cwd / p).exists() for p in saved):
                out.append(chunk)
        return sorted(out)

    def missing_frames(self, vanished: list[str]) -> list[int]:
        """Frames that are not (or no longer) rendered: not done, or done but their files vanished."""
        covered = set(self.done) - set(vanished)
        return sorted({f for c, frames in self.chunk_frames().items() if c not in covered for f in frames})

    def frame_seconds(self) -> list[float]:
        """Seconds per frame of every finished frame (the render's own times where it told them)."""
        out: list[float] = []
        for rec in self.done.values():
            times = rec.get("frame_times")
            if isinstance(times, list) and times and all(isinstance(t, (int, float)) for t in times):
                out.extend(float(t) for t in times)
            elif isinstance(rec.get("seconds"), (int, float)) and isinstance(rec.get("frames"), int) and rec["frames"]:
                out.extend([rec["seconds"] / rec["frames"]] * rec["frames"])
        return out

    def timing(self, at: float | None = None) -> dict[str, Any]:
        """Elapsed, ETA and slowest/fastest/average frame time (seconds; None where unknown)."""
        at = time.time() if at is None else at
        starts = [r["started"] for r in self.done.values() if isinstance(r.get("started"), (int, float))]
        starts += [t for c, t in self.started.items() if c in self.running]
        ends = [r["finished"] for r in self.done.values() if isinstance(r.get("finished"), (int, float))]
        first = min(starts, default=None)
        end = at if self.active or not ends else max(ends)
        per_frame = self.frame_seconds()
        average = sum(per_frame) / len(per_frame) if per_frame else None
        total = self.manifest.get("frames")
        left = total - self.frames_done() if isinstance(total, int) else None
        eta = None
        if average is not None and left is not None and self.active and not self.control.holds:
            eta = round(left * average / max(1, len(self.running)), 1)
        return {
            "elapsed": None if first is None else round(end - first, 1),
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
            "name": m.get("name"),
            "kind": m.get("kind"),
            "owner": m.get("owner"),
            "priority": m.get("priority"),
            "created": m.get("created"),
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
            "frames": {"total": m.get("frames"), "done": self.frames_done()},
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
    hosts: dict[str, dict[str, Any]]
    taken_at: float

    def live_hosts(self) -> dict[str, dict[str, Any]]:
        return {n: r for n, r in self.hosts.items() if host_is_live(r, self.taken_at)}


def snapshot(spool: Spool, only_job: str | None = None) -> Farm:
    """Read the whole farm state (or one job's) from the spool."""
    names = [only_job] if only_job else spool.list_jobs()
    jobs: dict[str, JobView] = {}
    for job in names:
        manifest = spool.read_manifest(job)
        if manifest is not None:
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
    for rec in spool.hosts().values():
        for entry in rec.get("chunks") or []:
            if isinstance(entry, dict) and isinstance(entry.get("started"), (int, float)):
                view = jobs.get(str(entry.get("job")))
                if view is not None:
                    view.started[str(entry.get("chunk"))] = float(entry["started"])
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
    return Farm(jobs, spool.hosts(), time.time())


def who_can_run(farm: Farm, view: JobView) -> list[str]:
    """Live hosts that accept this job's kind of chunk."""
    kind = view.manifest.get("kind")
    out = []
    for name, rec in farm.live_hosts().items():
        if kind == "command" and not rec.get("allow_commands"):
            continue
        if kind == "blender" and blender_refusal(view.manifest, rec) is not None:
            continue
        out.append(name)
    return out


def blender_refusal(manifest: dict[str, Any], host: dict[str, Any]) -> str | None:
    """Why a host (its record) cannot render a Blender job: too old a Blender, or no --allow-scripts."""
    blend = manifest.get("blend")
    if not isinstance(blend, dict):
        blend = {}
    need = blend.get("version")
    need = need if isinstance(need, list) and len(need) == 2 and all(isinstance(v, int) for v in need) else None
    have = host.get("blender_version")
    return blender.refusal(need, blend.get("trust_scripts") is True, have if isinstance(have, str) else None,
                           host.get("allow_scripts") is True)
