"""Why a job waits, as `render status`, `render wait` and `render hosts` tell it (docs/scheduling.md).

The daemons decide with renderd/schedule.py; the front-end asks the same code (`waits`,
`dep_state`) from the same files, so what `render status` says is what the daemons do: a job
waiting for another ("waiting for JOB"), one that never starts because a job it waits for
failed, was cancelled or removed, one no live host may take ("waits: no live host has tag
gpu"), the hosts blocked from a job after failing it (render unblock JOB HOST).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from render_frontend.farm import Farm, JobView, snapshot
from renderd import blocklist
from renderd.schedule import DepState, HostView, dep_state, waits
from renderd.schedule import JobView as SchedJob
from renderd.spool import Spool


@dataclass(frozen=True)
class Why:
    """One job's scheduling state."""

    deps: DepState
    note: str  # "waiting for A", "never starts: A failed", or ""
    blocked: dict[str, int]  # host -> failures not forgiven, for hosts at or over the job's limit
    waits: str | None  # why no live host may take it now (None: some may, or it has nothing queued)
    waiting_for: tuple[str, ...] = ()  # the jobs waited for that are not done yet

    def as_json(self, view: JobView) -> dict[str, Any]:
        rules = view.manifest.rules.as_dict()
        rules.pop("version")
        return {**rules, "dependency": self.deps.value, "dependency_note": self.note or None,
                "waiting_for": list(self.waiting_for),
                "blocked": [{"host": h, "failures": n} for h, n in sorted(self.blocked.items())],
                "waits": self.waits}


def dependency_state(view: JobView | None) -> str:
    """A job waited for, as schedule.dep_state reads it: done, failed, cancelled, gone or running."""
    if view is None:
        return "gone"
    if view.control.cancelled:
        return "cancelled"
    if view.failed or view.bad:
        return "failed"
    return "done" if len(view.done) >= view.total else "running"


def explain(spool: Spool, farm: Farm, view: JobView) -> Why:
    rules = view.manifest.rules
    states = {}
    for job in rules.after:
        dep = farm.jobs.get(job)
        if dep is None and job not in farm.unreadable:  # `status JOB` read that job only
            dep = snapshot(spool, job).jobs.get(job)
        states[job] = dependency_state(dep)
    deps, note = dep_state(rules.after, states) if rules.after else (DepState.READY, "")
    admins = sorted({r.admin_group for r in farm.hosts.values() if r.admin_group})  # whose unblock daemons obey
    blocked = blocklist.blocked_hosts(spool, view.job, rules.block_after, admins)
    hosts = [HostView(n, r.tags, r.slots or 1, r.is_live(farm.taken_at), r.gpu) for n, r in farm.hosts.items()]
    sched = SchedJob(view.job, view.manifest.priority, view.manifest.submitted_ms, len(view.running), rules,
                     frozenset(blocked), deps, note)
    why = waits(sched, hosts) if view.queued and not view.control.holds else None
    if why is not None and why == note:
        why = None  # said once, as the dependency's note
    waiting = tuple(j for j in rules.after if states[j] == "running") if deps is DepState.WAITING else ()
    return Why(deps, note, blocked, why, waiting)


def lines(why: Why, view: JobView) -> list[str]:
    """The lines `render status` prints under a job (none for a job with default rules and no news)."""
    rules = view.manifest.rules
    out = []
    parts = []
    if rules.tags:
        parts.append(f"tags {','.join(sorted(rules.tags))}")
    if rules.hosts is not None:
        parts.append(f"hosts {','.join(sorted(rules.hosts))}")
    if rules.max_share is not None:
        parts.append(f"max share {rules.max_share}")
    if rules.after:
        parts.append(f"after {','.join(rules.after)}")
    if rules.gpu:
        parts.append("gpu")
    if parts:
        out.append("rules: " + "; ".join(parts))
    if why.note and view.active:
        out.append(why.note)
    elif why.deps is DepState.BROKEN and not view.done:
        out.append(why.note)
    for host, failures in sorted(why.blocked.items()):
        out.append(f"blocked: {host} failed it {failures} times (render unblock {view.job} {host})")
    if why.waits:
        out.append(f"! {why.waits}")
    return out
