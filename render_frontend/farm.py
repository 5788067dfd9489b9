"""A snapshot of the farm read from the spool: jobs and their chunks by state, hosts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from renderd.spool import Spool, host_is_live, job_of_chunk


@dataclass
class JobView:
    job: str
    manifest: dict[str, Any]
    queued: list[str] = field(default_factory=list)
    running: dict[str, str] = field(default_factory=dict)  # chunk -> host
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        chunks = self.manifest.get("chunks")
        return len(chunks) if isinstance(chunks, list) else 0

    @property
    def active(self) -> bool:
        return bool(self.queued or self.running)

    @property
    def state(self) -> str:
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
            },
            "frames": {"total": m.get("frames"), "done": self.frames_done()},
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
            jobs[job] = JobView(job, manifest, done=spool.done_chunks(job))
    for qdir in spool.queue_dirs():
        if qdir.job in jobs:
            jobs[qdir.job].queued.extend(spool.queued_chunks(qdir))
    for claim in spool.claims():
        view = jobs.get(claim.job)
        if view is not None:
            view.running[claim.chunk] = claim.host
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
        out.append(name)
    return out
