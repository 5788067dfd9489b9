"""A farm simulated without processes: hosts free up, each asks renderd.schedule.pick() (the daemon's
own decision code) which job to take a chunk from.  Checks that priorities and shares hold, that a
small job is not stuck behind a big one of equal priority, and that one big job keeps the farm busy."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field, replace

from renderd.schedule import DepState, HostView, JobRules, JobView, Share, dep_state, farm_slots, pick, waits


@dataclass
class SimJob:
    view: JobView
    chunks: int
    seconds: float
    queued: int = field(init=False)
    started: list[float] = field(default_factory=list)
    done: int = 0

    def __post_init__(self) -> None:
        self.queued = self.chunks


@dataclass
class Trace:
    starts: list[tuple[float, str, str]] = field(default_factory=list)  # (time, host, job)
    max_running: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    makespan: float = 0.0


def simulate(jobs: list[SimJob], hosts: list[HostView], seed: int = 1) -> Trace:
    rng = random.Random(seed)
    trace = Trace()
    by_name = {j.view.job: j for j in jobs}
    running: dict[str, int] = {j.view.job: 0 for j in jobs}
    free: list[tuple[float, int, str]] = [(0.0, i, h.name) for i, h in enumerate(hosts) for _ in range(h.slots)]
    heapq.heapify(free)
    ends: list[tuple[float, str]] = []  # (time, job) of running chunks
    host_of = {h.name: h for h in hosts}
    slots = farm_slots(hosts)
    now = 0.0
    tick = 0
    while any(j.queued for j in jobs) or ends:
        if free and (not ends or free[0][0] < ends[0][0]):
            now, _, name = heapq.heappop(free)
            views = [replace(j.view, running=running[j.view.job]) for j in jobs if j.queued]
            views = [replace(v, deps=dep_state(v.rules.after, _states(by_name))[0]) for v in views]
            choice = pick(views, host_of[name], slots)
            if not choice:
                if not ends:
                    break  # nothing this host may run will ever come: the rest waits (reported by waits())
                tick += 1
                heapq.heappush(free, (ends[0][0], tick, name))  # look again when something finishes
                continue
            _check_order(choice[0], views, host_of[name], slots, trace, now)
            job = by_name[choice[0].job]
            job.queued -= 1
            running[job.view.job] += 1
            trace.max_running[job.view.job] = max(trace.max_running.get(job.view.job, 0), running[job.view.job])
            trace.starts.append((now, name, job.view.job))
            job.started.append(now)
            end = now + job.seconds * rng.uniform(0.9, 1.1)
            heapq.heappush(ends, (end, job.view.job))
            tick += 1
            heapq.heappush(free, (end, tick, name))
        else:
            now, finished = heapq.heappop(ends)
            running[finished] -= 1
            by_name[finished].done += 1
            trace.makespan = max(trace.makespan, now)
    return trace


def _states(by_name: dict[str, SimJob]) -> dict[str, str]:
    return {name: "done" if j.done == j.chunks else "running" for name, j in by_name.items()}


def _check_order(taken: JobView, views: list[JobView], host: HostView, slots: int, trace: Trace, now: float) -> None:
    """No job this host could take may outrank the one it took."""
    for other in views:
        if other.job == taken.job or other.priority <= taken.priority:
            continue
        cap = other.rules.max_share.cap(slots) if other.rules.max_share else None
        if other.deps is DepState.READY and other.rules.tags <= host.tags and (cap is None or other.running < cap):
            if other.rules.hosts is None or host.name in other.rules.hosts:
                trace.violations.append(f"{now:.1f}: {host.name} took {taken.job} over higher-priority {other.job}")


def _mixed_farm(rng: random.Random) -> tuple[list[SimJob], list[HostView]]:
    hosts = [HostView(f"ws{i:02d}", frozenset({"gpu"}) if i < 3 else frozenset(), slots=1 + (i % 2)) for i in range(8)]
    jobs = []
    for i in range(30):
        rules = JobRules()
        if i % 7 == 3:
            rules = JobRules(tags=frozenset({"gpu"}))
        if i % 5 == 1:
            rules = JobRules(max_share=Share(2) if i % 2 else Share(25, percent=True))
        if i % 9 == 8:
            rules = JobRules(after=(f"job{i - 1:02d}",))
        view = JobView(f"job{i:02d}", priority=rng.choice([30, 50, 50, 50, 70]), submitted_ms=1000 * i, rules=rules)
        jobs.append(SimJob(view, chunks=rng.choice([1, 2, 5, 20, 60]), seconds=rng.uniform(5, 60)))
    return jobs, hosts


def test_priorities_and_shares_hold_on_a_mixed_farm() -> None:
    for seed in range(5):
        rng = random.Random(seed)
        jobs, hosts = _mixed_farm(rng)
        trace = simulate(jobs, hosts, seed)
        assert not trace.violations, trace.violations[:3]
        slots = farm_slots(hosts)
        for job in jobs:
            assert job.done == job.chunks, f"{job.view.job} did not finish (seed {seed})"
            share = job.view.rules.max_share
            if share is not None:
                assert trace.max_running[job.view.job] <= share.cap(slots), job.view.job
        gpu_hosts = {h.name for h in hosts if "gpu" in h.tags}
        for _, host, name in trace.starts:
            if "gpu" in next(j for j in jobs if j.view.job == name).view.rules.tags:
                assert host in gpu_hosts


def test_dependencies_start_only_after_the_job_they_wait_for_is_done() -> None:
    rng = random.Random(3)
    jobs, hosts = _mixed_farm(rng)
    simulate(jobs, hosts, 3)
    by_name = {j.view.job: j for j in jobs}
    for job in jobs:
        for dep in job.view.rules.after:
            finished = by_name[dep]
            last_start = max(finished.started)
            assert min(job.started) > last_start, f"{job.view.job} started before {dep} was done"


def test_a_small_job_starts_beside_a_big_one_of_equal_priority() -> None:
    big = SimJob(JobView("shot", 50, 0), chunks=200, seconds=30)
    small = SimJob(JobView("test", 50, 5_000), chunks=2, seconds=30)
    hosts = [HostView("a"), HostView("b")]
    simulate([big, small], hosts)
    # the two hosts start the shot at t=0; the very next free slot goes to the test render
    assert len([t for t in big.started if t <= min(small.started)]) <= 2
    assert max(small.started) < sorted(big.started)[4]


def test_one_big_job_keeps_every_host_busy_within_5_percent_of_ideal() -> None:
    hosts = [HostView(f"h{i}") for i in range(8)]
    job = SimJob(JobView("big", 50, 0), chunks=400, seconds=20)
    trace = simulate([job], hosts)
    ideal = 400 * 20 / 8
    assert trace.makespan <= ideal * 1.05, (trace.makespan, ideal)


def test_waits_says_why_no_host_can_take_a_job() -> None:
    hosts = [HostView("a", frozenset({"cpu"})), HostView("b", live=False, tags=frozenset({"gpu"}))]
    gpu_job = JobView("j", 50, 0, rules=JobRules(tags=frozenset({"gpu"})))
    assert waits(gpu_job, hosts) == "waits: no live host has tag gpu"
    blocked = JobView("j", 50, 0, blocked=frozenset({"a"}))
    assert waits(blocked, hosts) is not None and "blocked" in str(waits(blocked, hosts))
    state, note = dep_state(["x"], {"x": "failed"})
    assert state is DepState.BROKEN and "failed" in note
    assert dep_state(["x"], {})[0] is DepState.BROKEN  # removed
    assert dep_state(["x"], {"x": "queued"})[0] is DepState.WAITING
    assert waits(JobView("j", 50, 0), hosts) is None


def test_a_blocked_host_never_takes_the_job_and_the_others_finish_it() -> None:
    hosts = [HostView("a"), HostView("b"), HostView("c", frozenset({"gpu"}))]
    shot = SimJob(JobView("shot", 50, 0, blocked=frozenset({"a"})), chunks=30, seconds=10)
    other = SimJob(JobView("other", 50, 1_000), chunks=10, seconds=10)
    trace = simulate([shot, other], hosts)
    assert shot.done == 30 and other.done == 10
    assert {h for _, h, j in trace.starts if j == "shot"} == {"b", "c"}
    only_a = JobView("x", 50, 0, rules=JobRules(hosts=frozenset({"a"})), blocked=frozenset({"a"}))
    assert "blocked" in str(waits(only_a, hosts))


def test_a_percentage_share_follows_the_farms_live_slots() -> None:
    hosts = [HostView(f"h{i}", slots=2) for i in range(4)] + [HostView("gone", slots=8, live=False)]
    assert farm_slots(hosts) == 8
    big = SimJob(JobView("big", 50, 0, rules=JobRules(max_share=Share(25, percent=True))), chunks=40, seconds=10)
    fill = SimJob(JobView("fill", 40, 1_000), chunks=200, seconds=10)
    trace = simulate([big, fill], [h for h in hosts if h.live])
    assert trace.max_running["big"] == 2  # 25 % of 8 live slots, never the dead host's
    assert big.done == 40 and not trace.violations
