"""When may this host run chunks?  The idle policy: start, suspend, resume, give back.

`decide` is the whole policy as a pure function of what the host sees now; `HostPolicy`
is the daemon's side: it samples the signals (renderd/idle/), asks `decide`, and
applies the answer to the running chunks through the Runner.  docs/idle.md describes it
for users.

Rules (defaults in brackets):
- start only when the owner has been idle `idle_after` [300 s] (`when=idle`), inside the
  `schedule`, with at least `min_free_mem` [2 GiB] available, not swapping, not paused or
  draining, and with no chunk suspended;
- suspend (SIGSTOP to the chunk's process group) a running chunk as soon as the owner is
  active again after it started or resumed, when the owner pauses the host, and — the
  newest chunk first — when the host swaps pages out;
- resume (SIGCONT) once the owner has been idle `resume_after` [120 s], no page was swapped
  out for as long, the host is not paused, and (after a swap suspension) memory is free again;
- give the chunk back to the queue (SIGTERM, SIGKILL after the grace) when it has been
  suspended longer than `max_suspend` [30 min]: it runs elsewhere, counted as preempted;
- the schedule and `drain` only stop new starts: running chunks run on.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd.hostorder import MAY_START, read_control
from renderd.idle import Activity, MemoryState, MemoryWatch, OwnerActivity, make_probes
from renderd.runner import Run, Runner
from renderd.spool import Spool

log = logging.getLogger(__name__)

GIB = 2**30
FAST_TICK = 0.25
SLOW_TICK = 1.0
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 = Monday
    start: int  # minutes after midnight
    end: int  # minutes after midnight; <= start means the window runs past midnight


@dataclass(frozen=True)
class Schedule:
    """Allowed hours, e.g. `mon-fri 19:00-08:00, sat-sun` (nights and weekends).

    Each comma-separated part is `DAYS [HH:MM-HH:MM]` or `HH:MM-HH:MM` (every day); DAYS is
    a day or a range (`fri-mon` wraps).  A window whose end is not after its start runs past
    midnight into the next day: `mon-fri 19:00-08:00` covers Friday 19:00 to Saturday 08:00."""

    text: str
    windows: tuple[Window, ...]

    def __str__(self) -> str:
        return self.text  # as the user wrote it (`renderd --print-config`)

    @classmethod
    def parse(cls, text: str) -> Schedule:
        windows = tuple(_parse_window(part.strip().lower()) for part in text.split(",") if part.strip())
        if not windows:
            raise ValueError("empty schedule")
        return cls(text, windows)

    def allows(self, when: dt.datetime) -> bool:
        day, minute = when.weekday(), when.hour * 60 + when.minute
        for w in self.windows:
            if w.start < w.end:
                if day in w.days and w.start <= minute < w.end:
                    return True
            elif (day in w.days and minute >= w.start) or ((day - 1) % 7 in w.days and minute < w.end):
                return True
        return False


def _day(word: str, part: str) -> int:
    """`mon` or `monday` -> 0."""
    for index, day in enumerate(DAYS):
        if word == day or word == FULL_DAYS[index]:
            return index
    raise ValueError(f"unknown day {word!r} in {part!r}: use {', '.join(DAYS)}")


def _parse_window(part: str) -> Window:
    m = re.fullmatch(r"(?:([a-z]+)(?:-([a-z]+))?)?\s*(?:(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2}))?", part)
    if m is None or not part:
        raise ValueError(f"cannot read {part!r}: use e.g. 'mon-fri 19:00-08:00' or 'sat-sun'")
    first, last, h1, m1, h2, m2 = m.groups()
    if first is None:
        days = frozenset(range(7))
    else:
        a, b = _day(first, part), _day(last or first, part)
        days = frozenset((a + i) % 7 for i in range((b - a) % 7 + 1))
    if h1 is None:
        return Window(days, 0, 24 * 60)
    start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
    if int(h1) > 24 or int(h2) > 24 or int(m1) > 59 or int(m2) > 59 or start > 24 * 60 or end > 24 * 60:
        raise ValueError(f"bad time in {part!r}")
    return Window(days, start, end)


# --------------------------------------------------------------------------- the decision


@dataclass
class PolicyConfig:
    when: str = "idle"  # always | idle | never
    idle_after: float = 300.0
    resume_after: float = 120.0
    max_suspend: float = 1800.0
    min_free_mem: int = 2 * GIB
    schedule: Schedule | None = None
    cpu_busy: float = 0.5  # cores used outside the farm that count as owner activity


@dataclass
class Observation:
    """What the host sees at one tick."""

    wall: float
    activity: Activity
    memory: MemoryState
    last_swap: float | None  # wall time pages were last swapped out
    control: str | None  # pause / drain, from the owner
    local_time: dt.datetime

    @property
    def idle_for(self) -> float:
        return self.activity.idle_for(self.wall)


@dataclass
class RunState:
    """The policy's view of one running chunk."""

    token: str
    running_since: float  # wall time it started or was last resumed
    suspended_at: float | None = None  # wall time
    reason: str = ""  # why it is suspended: owner / pause / swap


@dataclass
class Decision:
    may_start: bool
    why: str  # why nothing may start ("" when it may)
    suspend: dict[str, str] = field(default_factory=dict)  # token -> reason
    resume: list[str] = field(default_factory=list)
    preempt: list[str] = field(default_factory=list)


def start_blocker(cfg: PolicyConfig, obs: Observation, runs: list[RunState]) -> str:
    """Why no new chunk may start now ('' when one may)."""
    if obs.control == "pause":
        return "paused by the owner"
    if obs.control == "drain":
        return "draining (render host resume to undo)"
    if cfg.when == "never":
        return "--when never"
    if cfg.schedule is not None and not cfg.schedule.allows(obs.local_time):
        return f"outside the schedule ({cfg.schedule.text})"
    if cfg.when == "idle" and obs.idle_for < cfg.idle_after:
        return f"owner active {obs.idle_for:.0f} s ago ({obs.activity.by}); starting after {cfg.idle_after:g} s idle"
    if obs.memory.free < cfg.min_free_mem:
        return f"only {obs.memory.free / GIB:.1f} GiB free memory (needs {cfg.min_free_mem / GIB:.1f})"
    if obs.memory.swapping:
        return "the host is swapping"
    if any(r.suspended_at is not None for r in runs):
        return "a chunk is suspended here"
    return ""


def decide(cfg: PolicyConfig, obs: Observation, runs: list[RunState]) -> Decision:
    why = start_blocker(cfg, obs, runs)
    decision = Decision(may_start=not why, why=why)
    owner_counts = cfg.when == "idle"
    swapped_quiet = obs.last_swap is None or obs.wall - obs.last_swap >= cfg.resume_after
    running = sorted((r for r in runs if r.suspended_at is None), key=lambda r: r.running_since)
    for r in running:
        if obs.control == "pause":
            decision.suspend[r.token] = "pause"
        elif owner_counts and obs.activity.last is not None and obs.activity.last > r.running_since:
            decision.suspend[r.token] = "owner"
    if obs.memory.swapping and running:
        newest = running[-1]
        decision.suspend.setdefault(newest.token, "swap")
    for r in runs:
        if r.suspended_at is None:
            continue
        if obs.wall - r.suspended_at >= cfg.max_suspend:
            decision.preempt.append(r.token)
            continue
        if obs.control == "pause" or not swapped_quiet:
            continue
        if owner_counts and obs.idle_for < cfg.resume_after:
            continue
        if r.reason == "swap" and obs.memory.free < cfg.min_free_mem:
            continue
        decision.resume.append(r.token)
    return decision


# --------------------------------------------------------------------------- the daemon's side


class HostPolicy:
    """Samples the signals each tick and applies the decision to the daemon's runs."""

    def __init__(
        self,
        cfg: PolicyConfig,
        owner: OwnerActivity,
        spool: Spool,
        host: str,
        emit: Callable[..., None],
        memory: MemoryWatch | None = None,
    ) -> None:
        self.cfg, self.owner, self.spool, self.host, self.emit = cfg, owner, spool, host, emit
        self.memory = memory or MemoryWatch()
        self.states: dict[str, RunState] = {}
        self.remaining: dict[str, float] = {}  # token -> seconds of time limit left while suspended
        self.control: str | None = None
        self.last_swap: float | None = None
        self.decision = Decision(False, "not sampled yet")
        self.observation: Observation | None = None
        self._next = 0.0
        self._control_at = -float("inf")
        # hosts/<name>.control is read this often (the daemon sets its poll): it is absent nearly
        # always, and each look is a lookup on the file server; `render host` on this machine
        # wakes the daemon through its socket (recheck()), so only other machines' orders wait.
        self.control_every = 1.0
        self.may_order: Callable[[int], bool] | None = None  # who may give this host orders (the daemon sets it)

    @classmethod
    def build(
        cls,
        cfg: PolicyConfig,
        signals: list[str],
        activity_path: Path | None,
        spool: Spool,
        host: str,
        emit: Callable[..., None],
    ) -> HostPolicy:
        # Owner activity matters only with --when idle; otherwise no signal is even read.
        probes = make_probes(signals, activity_path, cfg.cpu_busy) if cfg.when == "idle" else []
        return cls(cfg, OwnerActivity(probes), spool, host, emit)

    @property
    def may_start(self) -> bool:
        return self.decision.may_start

    def next_tick(self) -> float:
        return self._next

    def recheck(self) -> None:
        """Read the owner's order and decide again at the next loop turn."""
        self._control_at = -float("inf")
        self._next = 0.0

    def tick(self, runs: dict[str, Run], runner: Runner) -> bool:
        """Sample, decide, act.  Fast (every 0.25 s) while chunks run, else once a second.

        True when something changed that the host record should show at once."""
        mono = time.monotonic()
        self._next = mono + (FAST_TICK if runs else SLOW_TICK)
        wall = time.time()
        changed = False
        if mono - self._control_at >= self.control_every:
            self._control_at = mono
            changed = self._set_control(read_control(self.spool, self.host, self.may_order))
        memory = self.memory.read()
        if memory.swapping:
            self.last_swap = wall
        self.owner.set_farm([pid for r in runs.values() for pid in (r.launcher, r.program) if pid is not None])
        activity = self.owner.sample(wall, urgent=bool(runs))
        obs = Observation(wall, activity, memory, self.last_swap, self.control, dt.datetime.now())
        # Runs being stopped (time limit, lost lease, cancel, preemption) are the launcher's now.
        live = {t: r for t, r in runs.items() if r.stop_reason is None and r.program is not None}
        for token in set(self.states) - set(live):
            del self.states[token]
            self.remaining.pop(token, None)
        for token, run in live.items():
            self.states.setdefault(token, RunState(token, run.started_wall))
        self.observation = obs
        self.decision = decide(self.cfg, obs, list(self.states.values()))
        return self._apply(live, runner, wall) or changed

    def _set_control(self, control: str | None) -> bool:
        if control == self.control:
            return False
        log.info("owner control: %s", control or "none (normal policy)")
        self.emit("host-control", control=control)
        self.control = control
        return True

    def _apply(self, runs: dict[str, Run], runner: Runner, wall: float) -> bool:
        """Act on the decision; True if any run changed state."""
        acted = False
        for token, state in self.states.items():
            run = runs[token]
            if state.suspended_at is not None and not run.suspended:
                runner.suspend(run)  # someone else (job control) resumed what the owner's activity still stops
        for token, reason in self.decision.suspend.items():
            run, state = runs[token], self.states[token]
            if run.suspended:
                continue  # suspended by job control (`render pause --now`): not ours to time or resume
            acted = True
            runner.suspend(run)
            state.suspended_at, state.reason = wall, reason
            if run.deadline is not None:  # time spent suspended does not count against the time limit
                self.remaining[token] = run.deadline - time.monotonic()
                run.deadline = None
            log.info("suspended %s (%s)", run.info.chunk, self._why(reason))
            self.emit("chunk-suspended", chunk=run.info.chunk, job=run.info.job, reason=reason)
        for token in self.decision.resume:
            run, state = runs[token], self.states[token]
            acted = True
            runner.resume(run)
            paused_for = wall - (state.suspended_at or wall)
            state.suspended_at, state.reason, state.running_since = None, "", wall
            if token in self.remaining:
                run.deadline = time.monotonic() + self.remaining.pop(token)
            log.info("resumed %s after %.0f s", run.info.chunk, paused_for)
            self.emit("chunk-resumed", chunk=run.info.chunk, job=run.info.job, suspended=round(paused_for, 3))
        for token in self.decision.preempt:
            run = runs[token]
            acted = True
            log.warning(
                "%s was suspended longer than %g s: giving it back to the queue", run.info.chunk, self.cfg.max_suspend
            )
            self.emit("chunk-preempted", chunk=run.info.chunk, job=run.info.job)
            runner.stop(run, "preempt")
        return acted

    def _why(self, reason: str) -> str:
        obs = self.observation
        if reason == "owner" and obs is not None:
            return f"owner active: {obs.activity.by}"
        return {"pause": "paused by the owner", "swap": "the host is swapping"}.get(reason, reason)

    def state(self) -> str | None:
        """The host state the policy imposes, if any: paused / drain."""
        if self.control == "pause":
            return "paused"
        if self.control == "drain":
            return "drain"
        return None

    def record(self) -> dict[str, Any]:
        """Fields for the host record (`render hosts`)."""
        obs = self.observation
        idle_for = obs.idle_for if obs is not None else None
        return {
            "control": self.control,
            "policy": self.decision.why or MAY_START,
            "owner_idle": None if idle_for is None or idle_for == float("inf") else round(idle_for, 1),
            "idle_after": self.cfg.idle_after,
            "schedule": self.cfg.schedule.text if self.cfg.schedule else None,
        }

    def close(self) -> None:
        self.owner.close()
