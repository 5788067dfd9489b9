"""What a daemon knows of the farm when it schedules: the inputs of renderd/schedule.py.

Everything here comes from the spool, read at most once per poll (never once per chunk), and
only while something is queued that this daemon may run (an idle farm reads none of it):
- running counts: one listing of claimed/ (a claim's name carries its chunk, so its job);
  this daemon's own runs are counted exactly, at once;
- the farm's live slots: the host records (`slots` of each live host), read every 30 s at most;
- dependencies: a job waited for is *done* when each chunk of its manifest has a done record
  (then it stays done, never read again), *failed* when a chunk of it is in failed/ or bad/,
  *cancelled* by its owner's control file, *gone* without a manifest;
- the blocklist: this host's own count of failures of each job (in memory, written to
  jobs/<job>/failures/<host>.json) and what the owner forgave (jobs/<job>/unblocked.json),
  re-read at poll cadence only while this host is at or over the job's limit.
docs/scheduling.md says what each rule guarantees when daemons decide at the same time.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from renderd import blocklist
from renderd.errors import RenderdError
from renderd.format.control import JobControl
from renderd.format.manifest import Manifest
from renderd.format.names import INFO_RE, QueueDir, job_of_chunk
from renderd.format.rules import JobRules
from renderd.schedule import DepState, HostView, JobView, dep_state
from renderd.spool import Spool

log = logging.getLogger("renderd")
HOSTS_EVERY = 30.0  # seconds between readings of the host records (the farm's slots and tags)


@dataclass
class FarmPicture:
    spool: Spool
    me: HostView
    poll: float
    control_of: Callable[[str], JobControl]
    admins: tuple[str, ...] = ()
    others: Counter[str] = field(default_factory=Counter)  # job -> chunks running on other daemons
    hosts: list[HostView] = field(default_factory=list)  # the other live hosts
    _at: float = float("-inf")
    _done: set[str] = field(default_factory=set)  # jobs waited for that are done: done for good
    _states: dict[str, str] = field(default_factory=dict)  # job waited for -> its state, this poll
    _failed: set[str] | None = None  # jobs with a chunk in failed/, listed when a dependency needs them
    _hosts_at: float = float("-inf")
    _bad: list[str] | None = None  # names in bad/, listed when a dependency needs them
    _mine: dict[str, int] = field(default_factory=dict)  # job -> this host's failures of it
    _forgiven: dict[str, tuple[int, float]] = field(default_factory=dict)  # job -> (forgiven, read at)

    def refresh(self, force: bool = False) -> None:
        """Re-read claims, host records and failed/ when a poll's time has passed (or `force`)."""
        now = time.monotonic()
        if not force and now - self._at < self.poll:
            return
        self._at = now
        self.others = self.running_elsewhere()
        if force or now - self._hosts_at >= max(self.poll, HOSTS_EVERY):
            # every host record is a read on the file server: at most every HOSTS_EVERY seconds, or
            # a farm's reads would grow with hosts x hosts (docs/netfs.md); slots and tags seldom change
            self._hosts_at = now
            records = self.spool.hosts()
            self.hosts = [HostView(name, rec.tags, rec.slots or 1, True, rec.gpu) for name, rec in records.items()
                          if name != self.me.name and rec.is_live()]
        self._failed = None
        self._bad = None
        self._states = {}

    def look_again(self) -> None:
        """A slot freed up here: the next pick counts the farm's claims afresh (one listing of claimed/),
        so it judges fair share on what runs now, not on the last poll's counts."""
        self._at = float("-inf")

    def running_elsewhere(self, job: str | None = None) -> Counter[str]:
        """Chunks running on other daemons, by job, from one listing of claimed/ (fresh: not cached)."""
        pid = os.getpid()
        counts: Counter[str] = Counter()
        for claim in self.spool.claims():
            if claim.host == self.me.name and claim.pid == pid:
                continue  # our own runs are counted from memory
            if job is None or claim.job == job:
                counts[claim.job] += 1
        return counts

    def farm_slots(self) -> int:
        return self.me.slots + sum(h.slots for h in self.hosts)

    def farm(self) -> list[HostView]:
        return [self.me, *self.hosts]

    # -- dependencies ---------------------------------------------------------

    def state_of(self, job: str) -> str:
        """done / failed / cancelled / gone, or running (anything not yet done)."""
        if job in self._done:
            return "done"
        if job not in self._states:
            self._states[job] = self._read_state(job)
            if self._states[job] == "done":
                self._done.add(job)
        return self._states[job]

    def _read_state(self, job: str) -> str:
        manifest = self.spool.read_manifest(job)
        if manifest is None:
            return "gone"
        if self.control_of(job).cancelled:
            return "cancelled"
        if self._failed is None:
            self._failed = {job_of_chunk(c) for c in self.spool.failed_chunks()}
        if job in self._failed or self._in_bad(job):
            return "failed"
        done = set(self.spool.names(self.spool.job_dir(job) / "done"))
        if all(f"{c.chunk}.json" in done for c in manifest.chunks):
            return "done"
        return "running"

    def _in_bad(self, job: str) -> bool:
        if self._bad is None:
            self._bad = self.spool.bad_files()
        prefix = job + "-"
        return any(n.startswith(prefix) and INFO_RE.match(n.rsplit(".", 1)[0]) for n in self._bad)

    def deps(self, rules: JobRules) -> tuple[DepState, str]:
        if not rules.after:
            return DepState.READY, ""
        return dep_state(rules.after, {job: self.state_of(job) for job in rules.after})

    # -- blocklist ------------------------------------------------------------

    def failures_here(self, job: str) -> int:
        if job not in self._mine:
            rec = blocklist.read_failures(self.spool, job, self.me.name)
            self._mine[job] = 0 if rec is None else rec.failures
        return self._mine[job]

    def blocked_here(self, job: str, rules: JobRules) -> bool:
        failures = self.failures_here(job)
        if failures < rules.block_after:
            return False
        forgiven, at = self._forgiven.get(job, (0, float("-inf")))
        if time.monotonic() - at >= self.poll:  # `render unblock` is noticed within a poll
            forgiven = blocklist.read_unblocked(self.spool, job, self.admins).forgiven(self.me.name)
            self._forgiven[job] = (forgiven, time.monotonic())
        return failures - forgiven >= rules.block_after

    def note_failure(self, job: str, chunk: str) -> None:
        """A chunk of `job` failed here: count it in this host's own failures file."""
        try:
            rec = blocklist.record_failure(self.spool, job, self.me.name, chunk, self.failures_here(job))
        except (OSError, RenderdError) as err:  # counted in memory all the same: this host still stops at N
            log.warning("cannot record the failure of %s in its job's blocklist: %s", chunk, err)
            self._mine[job] = self.failures_here(job) + 1
            return
        self._mine[job] = rec.failures

    # -- the views schedule.pick() takes --------------------------------------

    def view(self, qdir: QueueDir, manifest: Manifest | None, mine: int) -> JobView:
        """The job of a queue folder as schedule.py sees it (no manifest: default rules)."""
        rules = manifest.rules if manifest is not None else JobRules()
        state, note = self.deps(rules)
        blocked = frozenset({self.me.name}) if self.blocked_here(qdir.job, rules) else frozenset()
        return JobView(qdir.job, qdir.priority, qdir.submitted_ms, running=self.others[qdir.job] + mine,
                       rules=rules, blocked=blocked, deps=state, dep_note=note)

