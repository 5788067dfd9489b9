"""Claiming: which queued chunk this daemon takes next, and why it leaves others alone.

`choose()` is the decision for one chunk whose info file has been read, pure (the hosts'
records are passed in), so its rules can be tested like policy.decide(); `ClaimingMixin`
walks the scanner's candidates, reads each info file, acts on the choice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from renderd import claim
from renderd.access import owners_manifest
from renderd.daemon.picture import FarmPicture
from renderd.daemon.state import DaemonState, Deferred, log
from renderd.errors import BadInfoFile
from renderd.format.host import HostRecord
from renderd.format.info import ChunkInfo
from renderd.format.manifest import Manifest
from renderd.format.names import QueueDir
from renderd.kinds import Capabilities, kind_of
from renderd.kinds.blender import on_this_host
from renderd.ratelog import RateLimitedLog
from renderd.schedule import JobView, eligible, pick, share_cap, static_refusal

warn = RateLimitedLog(log)
decisions = RateLimitedLog(log, burst=3, window=60.0)  # why a job was taken or skipped: debug, a few a minute
quarantine_log = RateLimitedLog(log, burst=50)  # one line per file; a flood of them is summed up


class Verdict(StrEnum):
    TAKE = "take"
    QUARANTINE = "quarantine"  # the file cannot be trusted where it is
    REFUSE = "refuse"  # this daemon may not run it (decided once for the job's folder)
    DEFER = "defer"  # it failed here: wait a poll while another host may take it


@dataclass(frozen=True)
class Choice:
    verdict: Verdict
    reason: str | None = None


def capabilities_of(record: HostRecord) -> Capabilities:
    """What another daemon may run, from its host record (checked by its reader)."""
    return Capabilities(
        allow_commands=record.allow_commands,
        allow_scripts=record.allow_scripts,
        blender_version=record.blender_version,
        ffmpeg="ffmpeg" if record.ffmpeg else None,
    )


def refusal(info: ChunkInfo, caps: Capabilities) -> str | None:
    """Why a daemon with `caps` must leave this chunk to others (None: it may run it)."""
    kind = kind_of(info)
    if kind is None:
        return f"this renderd cannot run {info.kind!r} chunks"
    return kind.refuse(info, caps)


def last_failure_here(info: ChunkInfo, me: str) -> float | None:
    """When this host last failed the chunk (its history's time), None if never or unknown."""
    return max(info.history_times("failed", me), default=None)


def prefer_others(
    info: ChunkInfo, me: str, hosts: Mapping[str, HostRecord], now: float | None = None, window: float = 120.0
) -> str | None:
    """A chunk that failed here waits while a live host that has not failed it and may run it exists,
    for at most `window` seconds after its last failure here.

    The wait is a preference, never a rule: host records are spool files any artist can forge
    (a record with a heartbeat in the future looks live for ever), so one forged host must not
    keep every chunk that once failed somewhere from ever running again.  A real host that may
    run the chunk claims it within its poll; after the window (two leases) it is not coming."""
    if me not in info.failed_hosts:
        return None
    failed_at = last_failure_here(info, me)
    if failed_at is not None and (now if now is not None else time.time()) - failed_at >= window:
        return None
    kind = kind_of(info)
    for name, rec in hosts.items():
        if name == me or name in info.failed_hosts or not rec.is_live():
            continue
        if kind is not None and kind.refuse(info, capabilities_of(rec)) is not None:
            continue  # e.g. a host without --allow-commands: waiting for it would wait for ever
        return f"failed here before; {name} may try it"
    return None


def differs_from_manifest(info: ChunkInfo, manifest: Manifest | None) -> str | None:
    """Why a chunk is not what its job's owner submitted (None: it agrees, or there is no manifest).

    The manifest is the owner's word on the job (written by `render add`); an info file is one
    of thousands in a folder any artist may write.  What decides whether a daemon may run a job
    (its kind, a Blender job's version and trust_scripts) is taken from a chunk only when the
    chunk agrees with the manifest, so one planted chunk cannot make daemons leave the job."""
    if manifest is None:
        return None
    if info.kind != manifest.kind:
        return f"is a {info.kind!r} chunk in a {manifest.kind!r} job (its manifest says so)"
    blend = manifest.blend
    if info.kind == "blender" and blend is not None:
        fields = info.blender or {}
        if fields.get("trust_scripts") is True and not blend.trust_scripts:
            return "asks to run the .blend's scripts; its job's manifest does not"
        want = None if blend.version is None else list(blend.version)
        if want is not None and fields.get("version") is not None and list(fields["version"]) != want:
            return f"says the .blend was saved by Blender {fields['version']!r}; its job's manifest says {want!r}"
    return None


def choose(
    info: ChunkInfo,
    folder_job: str,
    caps: Capabilities,
    me: str,
    hosts: Mapping[str, HostRecord] | None,
    manifest: Manifest | None = None,
    prefer_window: float = 120.0,
) -> Choice:
    """What to do with one queued chunk; `hosts` is read only when the chunk failed here before."""
    if info.job != folder_job:
        return Choice(Verdict.QUARANTINE, f"belongs to job {info.job!r}, found in the folder of {folder_job!r}")
    differs = differs_from_manifest(info, manifest)
    if differs is not None:
        return Choice(Verdict.QUARANTINE, differs)
    refused = refusal(info, caps)
    if refused is not None:
        return Choice(Verdict.REFUSE, refused)
    if manifest is not None and manifest.hooks and not caps.allow_hooks:
        return Choice(Verdict.REFUSE, "the job has hooks (--pre/--post/--end/--error): this renderd runs hooks only "
                                      "with --allow-hooks or --allow-commands")
    preference = prefer_others(info, me, hosts or {}, window=prefer_window)
    if preference is not None:
        return Choice(Verdict.DEFER, preference)
    return Choice(Verdict.TAKE)


class ClaimingMixin(DaemonState):
    """Fills free slots: walks the scanner's candidates in claim order, acts on `choose()`."""

    def _accepting(self) -> bool:
        return (not self.stopping and self.cfg.when != "never" and self.policy.may_start
                and self.exit_rule.may_claim())  # a pilot near its time limit claims nothing

    def _skip_job(self, qdir: QueueDir) -> bool:
        if self.cfg.only_jobs and qdir.job not in self.cfg.only_jobs:  # `renderd --job`: a pilot for one job
            return True
        return self.job_refusals.get(qdir.name) is not None or qdir.job in self.jobs.held

    def _fill_slots(self) -> None:
        if not self._accepting() or len(self.runs) >= self.cfg.slots:
            return
        if self.rescan:
            self.scanner.refresh(self._skip_job)
            self.rescan = False
            while self.scanner.linked:
                self._quarantine_linked(self.scanner.linked.pop())
        if not any(self.scanner.has_chunks(q) and not self._skip_job(q) for q in self.scanner.dirs):
            return  # nothing queued for us: the farm's picture (host records, claims) is not read
        self.picture.refresh()
        while len(self.runs) < self.cfg.slots and not self.stopping:
            if not self._take_next():
                return

    def _take_next(self) -> bool:
        """Claim one chunk of the best job this host may run now (schedule.pick); False if none."""
        views, folders = self._job_views()
        if not views:
            return False
        ordered = pick(views, self.picture.me, self.picture.farm_slots())
        _explain(views, ordered, self.picture)
        now = time.monotonic()
        by_job = views_by_job(ordered)
        self.share_full.clear()
        for qdir, chunk in self.scanner.candidates(self._skip_job, [folders[v.job] for v in ordered]):
            if len(self.runs) >= self.cfg.slots or self.stopping:
                return False
            d = self.deferred.get(chunk)
            if (d is not None and d.until > now) or qdir.job in self.share_full:
                continue  # (a full share: its other chunks are not tried one by one, each with a listing)
            if self._try_chunk(qdir, chunk, by_job[qdir.job]):
                return True
        return False

    def _job_views(self) -> tuple[list[JobView], dict[str, QueueDir]]:
        """The queued jobs this host has not ruled out for good, as schedule.py sees them."""
        mine = Counter(run.info.job for run in self.runs.values())
        views: list[JobView] = []
        folders: dict[str, QueueDir] = {}
        for qdir in self.scanner.dirs:
            if self._skip_job(qdir) or not self.scanner.has_chunks(qdir):
                continue
            manifest = self._manifest(qdir)
            if manifest is not None:
                refused = static_refusal(manifest.rules, self.picture.me)
                if refused is not None:  # its tags or host list: never this host (decided once per folder)
                    self.job_refusals[qdir.name] = refused
                    log.info("leaving job %s to other hosts: %s", qdir.job, refused)
                    continue
            view = self.picture.view(qdir, manifest, mine[qdir.job])
            if manifest is not None and manifest.blend is not None and self._warm_loaded(manifest.blend.file):
                view = replace(view, warm=True)  # the tie-break that keeps Blender warm (schedule.order)
            views.append(view)
            folders[qdir.job] = qdir
        return views, folders

    def _warm_loaded(self, recorded: str) -> bool:
        """Does a warm Blender here (not rendering: its slot is free) have this .blend loaded?"""
        if self.warm is None:
            return False
        return str(on_this_host(self.spool.root, recorded)) in self.warm.loaded()

    def _try_chunk(self, qdir: QueueDir, chunk: str, view: JobView) -> bool:
        """Read, judge and maybe claim one queued chunk; True when it was claimed and started."""
        path = self.spool.queue_path(qdir, chunk)
        try:
            info = self.spool.read_info(path)
        except FileNotFoundError:
            self.scanner.forget(qdir, chunk)
            return False
        except BadInfoFile as err:
            self._quarantine(qdir, chunk, path, err.message)
            return False
        except OSError as err:
            warn.warning("cannot read", "cannot read %s: %s", path, err)
            return False
        hosts = self.spool.hosts() if self.cfg.name in info.failed_hosts else None
        manifest = self._manifest(qdir)
        choice = choose(info, qdir.job, self.caps, self.cfg.name, hosts, manifest, 2 * self.cfg.lease)
        if choice.verdict is Verdict.QUARANTINE:
            self._quarantine(qdir, chunk, path, choice.reason or "")
            return False
        if self.jobs.holds_at_claim(info.job):
            return False
        if choice.verdict is Verdict.REFUSE:
            if manifest is None:
                # No owner's word on the job: this chunk alone is left (until its folder changes).
                self.scanner.forget(qdir, chunk)
            elif qdir.name not in self.job_refusals:
                # The chunk agrees with its manifest, so its kind and requirements are the job's:
                # decide once for the whole folder (not one read per chunk of a 100 000-chunk job).
                self.job_refusals[qdir.name] = choice.reason
                log.info("leaving job %s to other hosts: %s", qdir.job, choice.reason)
            return False
        if choice.verdict is Verdict.DEFER:
            self.deferred[chunk] = Deferred(time.monotonic() + self.cfg.poll, choice.reason or "")
            return False
        cap = share_cap(view, self.picture.farm_slots())
        if cap is None:
            taken = claim.take(self.spool, path, chunk, self.cfg.name)
        else:
            taken = self._take_capped(path, chunk, view, cap)
            if taken is None and self.spool.io.exists(path):
                self.share_full.add(view.job)  # the share is full (or another host is claiming): stays queued
                return False
        self.scanner.forget(qdir, chunk)
        if taken is None:
            return False
        self.deferred.pop(chunk, None)
        decisions.debug("take", "took %s (job %s: priority %d, %d running)", chunk, view.job, view.priority,
                        view.running)
        self._start(taken)
        return True

    def _take_capped(self, path: Path, chunk: str, view: JobView, cap: int) -> claim.Claim | None:
        """Claim a chunk of a job with --max-share: count the job's claims afresh (one listing of claimed/)
        under the job's share lock, so that daemons whose locks reach each other never exceed the cap;
        where locks are host-local (sshfs, NFS local_lock) the cap can be exceeded by one chunk per host
        deciding at once (docs/scheduling.md)."""
        with claim.job_lock(self.spool, view.job) as locked:
            if not locked:
                return None
            mine = sum(1 for run in self.runs.values() if run.info.job == view.job)
            running = self.picture.running_elsewhere(view.job)[view.job] + mine
            if running >= cap:
                self.picture.others[view.job] = running - mine
                decisions.debug("share", "job %s holds its share: %d of %d running", view.job, running, cap)
                return None
            return claim.take(self.spool, path, chunk, self.cfg.name)

    def _manifest(self, qdir: QueueDir) -> Manifest | None:
        """The job's manifest, read once per queue folder (a new priority is a new folder); None when
        it has none, it fails validation (logged by the spool: a hostile manifest stops nothing), or
        it is not its owner's (access.manifest_is_the_owners): then each chunk is judged alone."""
        if qdir.name not in self.manifests:
            self.manifests[qdir.name] = owners_manifest(self.spool, qdir.job, self.cfg.admin_group)
        return self.manifests[qdir.name]

    def _quarantine_linked(self, qdir: QueueDir) -> None:
        self._quarantine(None, "", self.spool.root / "queue" / qdir.name, "the job's queue folder is a symbolic link")

    def _quarantine(self, qdir: QueueDir | None, chunk: str, path: Path, reason: str) -> None:
        if qdir is not None:
            self.scanner.forget(qdir, chunk)
        try:
            dest = self.spool.quarantine(path, reason)
        except OSError as err:
            warn.warning("cannot quarantine", "cannot quarantine %s: %s", path, err)
            return
        if dest is not None:  # one line per file; a flood of them (2 000 planted files) is summed up
            quarantine_log.warning("quarantined", "quarantined %s -> bad/%s: %s", path.name, dest.name, reason)


def views_by_job(views: Sequence[JobView]) -> dict[str, JobView]:
    return {v.job: v for v in views}


def _explain(views: Sequence[JobView], ordered: Sequence[JobView], picture: FarmPicture) -> None:
    """One debug line per kind of decision (rate-limited): why jobs are skipped, which goes first."""
    taken = {v.job for v in ordered}
    for view in views:
        if view.job in taken:
            continue
        why = eligible(view, picture.me)
        if why is None:
            decisions.debug("share", "job %s holds its share (%d running)", view.job, view.running)
        elif view.deps.value != "ready":
            decisions.debug(f"deps {view.deps.value}", "job %s: %s", view.job, why)
        else:
            decisions.debug("blocked", "job %s: %s", view.job, why)
    if len(ordered) > 1 and ordered[0].submitted_ms > ordered[1].submitted_ms:
        decisions.debug("fair share", "job %s first: %d running, older job %s has %d", ordered[0].job,
                        ordered[0].running, ordered[1].job, ordered[1].running)
