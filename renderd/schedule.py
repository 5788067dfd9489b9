"""Farm scheduling, decided by each daemon alone from what is in the spool (docs/scheduling.md).

There is no scheduler process: every daemon orders the queued jobs the same way from the same
files (manifests, host records, claims, blocklists) and takes the first chunk it may run.  The
rules here are pure functions of that picture, so the daemon and the simulation test
(tests/unit/test_schedule_sim.py) run the very same code:

- `eligible`   may this host run this job at all: tags, host list, blocklist, dependencies;
- `order`      among the jobs it may run, which first: priority, then a job whose .blend a
               warm Blender here has loaded (renderd --warm: no start-up, no load), then the
               fewest running chunks (fair share: a 2-frame test starts beside a 2 000-frame
               shot), then oldest;
- `share_cap`  how many chunks of a job may run at once (`--max-share`: slots or % of the
               farm's live slots);
- `waits`      why no live host may take a job (shown by `render status`).

What is only approximate, because daemons decide at the same moment on different hosts: a
share can be exceeded by one chunk per host deciding at once, and fair share is judged on the
running counts seen at the last listing of claimed/.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from renderd.format.rules import DEFAULT_BLOCK_AFTER, JobRules, Share

__all__ = ["DEFAULT_BLOCK_AFTER", "DepState", "HostView", "JobRules", "JobView", "Share", "dep_state", "eligible",
           "farm_slots", "order", "pick", "share_cap", "static_refusal", "waits"]


class DepState(StrEnum):
    READY = "ready"  # every job it waits for is done (or it waits for none)
    WAITING = "waiting"  # some job it waits for is still running or queued
    BROKEN = "broken"  # a job it waits for failed, was cancelled or removed: it never starts


@dataclass(frozen=True)
class HostView:
    name: str
    tags: frozenset[str] = frozenset()
    slots: int = 1
    live: bool = True
    gpu: bool = False  # renders on a GPU (`renderd --device`): may take `render add --gpu` jobs


@dataclass(frozen=True)
class JobView:
    """One queued job as a daemon sees it at this poll."""

    job: str
    priority: int
    submitted_ms: int
    running: int = 0
    rules: JobRules = field(default_factory=JobRules)
    blocked: frozenset[str] = frozenset()  # hosts that failed it `block_after` times
    deps: DepState = DepState.READY
    dep_note: str = ""  # which job it waits for, or why it never starts
    warm: bool = False  # a warm Blender on the deciding host has its .blend loaded (renderd --warm)


def static_refusal(rules: JobRules, host: HostView) -> str | None:
    """Why `host` may never take this job (its host list or tags): decided once per job by a daemon."""
    if rules.hosts is not None and host.name not in rules.hosts:
        return f"only for {', '.join(sorted(rules.hosts))}"
    missing = rules.tags - host.tags
    if missing:
        return f"needs tag {', '.join(sorted(missing))}"
    if rules.gpu and not host.gpu:
        return "needs a GPU (a daemon started with renderd --device)"
    return None


def eligible(job: JobView, host: HostView) -> str | None:
    """Why `host` must not take a chunk of `job` now (None: it may)."""
    if job.deps is not DepState.READY:
        return job.dep_note or f"waiting for {', '.join(job.rules.after)}"
    refused = static_refusal(job.rules, host)
    if refused is not None:
        return refused
    if host.name in job.blocked:
        return f"{host.name} failed it {job.rules.block_after} times (render unblock {job.job} {host.name})"
    return None


def share_cap(job: JobView, farm_slots: int) -> int | None:
    return None if job.rules.max_share is None else job.rules.max_share.cap(farm_slots)


def order(jobs: Iterable[JobView]) -> list[JobView]:
    """Highest priority first; among equals a job whose .blend is loaded in a warm Blender here
    (the next chunk costs no start-up and no file load), then the fewest running chunks, then the oldest."""
    return sorted(jobs, key=lambda j: (-j.priority, not j.warm, j.running, j.submitted_ms, j.job))


def farm_slots(hosts: Iterable[HostView]) -> int:
    return sum(h.slots for h in hosts if h.live)


def pick(jobs: Sequence[JobView], host: HostView, slots_of_farm: int) -> list[JobView]:
    """The jobs `host` may take a chunk from now, best first (full shares left out)."""
    out = []
    for job in order(jobs):
        if eligible(job, host) is not None:
            continue
        cap = share_cap(job, slots_of_farm)
        if cap is not None and job.running >= cap:
            continue
        out.append(job)
    return out


def waits(job: JobView, hosts: Sequence[HostView]) -> str | None:
    """Why no live host can take this job (None: some can, or it is only queued behind others)."""
    if job.deps is not DepState.READY:
        return job.dep_note or f"waiting for {', '.join(job.rules.after)}"
    live = [h for h in hosts if h.live]
    if not live:
        return "no live host"
    if job.rules.hosts is not None and not any(h.name in job.rules.hosts for h in live):
        return f"waits: none of {', '.join(sorted(job.rules.hosts))} is live"
    tagged = [h for h in live if job.rules.tags <= h.tags and (job.rules.hosts is None or h.name in job.rules.hosts)]
    if not tagged:
        return f"waits: no live host has tag {', '.join(sorted(job.rules.tags))}"
    if job.rules.gpu:
        tagged = [h for h in tagged if h.gpu]
        if not tagged:
            return "waits: no live host renders on a GPU (renderd --device)"
    if all(h.name in job.blocked for h in tagged):
        return f"waits: every host that may run it is blocked after {job.rules.block_after} failures (render unblock)"
    return None


def dep_state(after: Sequence[str], states: Mapping[str, str]) -> tuple[DepState, str]:
    """From the state of each job waited for ('done', 'failed', 'cancelled', 'gone', or anything
    else for not yet done) to this job's state and its note."""
    waiting = []
    for job in after:
        state = states.get(job, "gone")
        if state == "done":
            continue
        if state in ("failed", "cancelled", "gone"):
            what = "was removed" if state == "gone" else state
            return DepState.BROKEN, f"never starts: {job} {what}"
        waiting.append(job)
    if waiting:
        return DepState.WAITING, f"waiting for {', '.join(waiting)}"
    return DepState.READY, ""
