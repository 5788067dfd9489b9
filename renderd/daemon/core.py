"""The daemon loop: watch the queue, claim chunks, run them at low priority, keep leases, recover.

Everything that touches the spool or a run happens on the main thread, except done records, which
the recorder's thread writes (renderd/recorder.py); other threads (watchdog, the spawner's reader)
only post events to `self.events`.  This module holds start-up, the loop and its dispatch, and
shutdown; each step the loop takes lives in its own module (claiming, running, finishing,
leases, host_record).
"""

from __future__ import annotations

import logging
import os
import queue
import random
import signal
import socket
import time
from dataclasses import replace
from typing import Any

from renderd import chunkslice, claim, pilot, protocol
from renderd.daemon.claiming import ClaimingMixin
from renderd.daemon.devices import DeviceSetup
from renderd.daemon.host_record import HostRecordMixin
from renderd.daemon.jobguard import HostOrders, JobGuard
from renderd.daemon.leases import LeasesMixin
from renderd.daemon.picture import FarmPicture
from renderd.daemon.running import RunningMixin
from renderd.eventlog import EventLog
from renderd.format.names import ClaimName
from renderd.fsinfo import fs_type, is_network_fs
from renderd.kinds import capabilities
from renderd.kinds.blender_staging import clean_leftovers, notes_dir
from renderd.mailer import Mailer
from renderd.policy import HostPolicy
from renderd.progress import ProgressWatcher
from renderd.recorder import Recorder
from renderd.runner import Runner
from renderd.scanner import QueueScanner, QueueWatch
from renderd.schedule import HostView
from renderd.server import PeerPolicy, Server
from renderd.spool import Spool
from renderd.statslog import StatsLog
from renderd.warm.pool import WarmPool

log = logging.getLogger("renderd")


class Daemon(ClaimingMixin, RunningMixin, LeasesMixin, HostRecordMixin):
    """One renderd: start-up, the loop that dispatches every event on the main thread, shutdown."""

    # ------------------------------------------------------------------ set-up

    def run(self) -> int:
        self.spool = Spool.open(self.cfg.spool, create=True)
        if self.spool.created_layout and not is_network_fs(self.spool.root):
            log.warning(
                "created a NEW spool at %s on a local %s file system: other hosts cannot see it. "
                "Is the shared folder mounted?",
                self.spool.root,
                fs_type(self.spool.root) or "(unknown)",
            )
        self._check_name()
        self._start_talking()
        self.caps = capabilities(self.cfg.allow_commands, self.cfg.allow_scripts, self.cfg.blender)
        self.devices = DeviceSetup(self.cfg.devices, self.cfg.device_list)
        self.caps = self.devices.check(self.caps, self.cfg.slots)  # a --device this host lacks: one line, exit
        self.caps = replace(self.caps, allow_hooks=self.cfg.runs_hooks)
        self.notes = notes_dir(protocol.spool_key(self.spool.root), self.cfg.name)
        clean_leftovers(self.notes)  # staging folders a killed run left (kinds/blender_staging.py)
        self.spawner_prefix = chunkslice.scope_prefix(self.cfg.chunk_slice)
        self.spawner = self._new_spawner()
        self.runner = Runner(self.spawner, self.cfg.grace, self.spool.root)
        self.warm = WarmPool(lambda: self.spawner, lambda msg: self.events.put(("msg", msg)), self.spool.root,
                             self.cfg.grace, self.cfg.warm_settings) if self.cfg.warm else None
        self.jobs = JobGuard(self.spool, self.cfg.name, self.cfg.admin_group, self.runner, self.emit)
        self.recorder = Recorder(lambda tag, ok, err: self.events.put(("recorded", (tag, ok, err))))
        self.policy = HostPolicy.build(
            replace(self.cfg.policy, when=self.cfg.when),
            self.cfg.idle_signals,
            self.cfg.activity_path,
            self.spool,
            self.cfg.name,
            self.emit,
        )
        self.policy.control_every = self.cfg.poll  # the owner's order from another machine: within a poll
        self.policy.may_order = HostOrders(os.getuid(), self.cfg.admin_group)  # hosts/ is every artist's
        self.scanner = QueueScanner(self.spool)
        admins = (self.cfg.admin_group,) if self.cfg.admin_group else ()
        me = HostView(self.cfg.name, self.cfg.tags, self.cfg.slots, gpu=self.caps.gpu)
        self.picture = FarmPicture(self.spool, me, self.cfg.poll, self.jobs.control_of, admins)
        self.exit_rule = pilot.ExitRule(
            self.cfg.idle_exit,
            None if self.cfg.end_in is None else time.monotonic() + self.cfg.end_in,
            self.cfg.grace,
        )
        self.watcher = claim.LeaseWatcher(self.spool, self.cfg.name, self.cfg.lease, self._is_mine)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        watch = QueueWatch(self.spool, lambda folder: self.events.put(("wake", folder))) if self.cfg.watch else None
        if watch is not None:
            watch.start()
        self.started_wall = time.time()
        log.info(
            "renderd %s on %s: spool %s, %d slot(s), lease %gs, poll %gs, commands %s, tags %s",
            self.cfg.name,
            socket.gethostname(),
            self.spool.root,
            self.cfg.slots,
            self.cfg.lease,
            self.cfg.poll,
            "allowed" if self.cfg.allow_commands else "refused",
            ",".join(sorted(self.cfg.tags)) or "none",
        )
        if self.cfg.default_hooks and not self.cfg.runs_hooks:
            log.warning("the config file's [hooks] are not run: this renderd runs hooks only with --allow-hooks "
                        "or --allow-commands")
        self.emit("daemon-started", pid=os.getpid(), slots=self.cfg.slots)
        self.notify.ready(self._status())
        try:
            self._loop()
        finally:
            if watch is not None:
                watch.stop()
            self._shutdown()
            self._stop_talking()
        return 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        self.events.put(("signal", signum))

    def _is_mine(self, name: ClaimName) -> bool:
        """Claims of a run in progress here.  A claim of ours that no run holds (an error between
        claiming and starting) is judged by its heartbeat like anyone's, so it is recovered."""
        if name.host != self.cfg.name or name.pid != os.getpid():
            return False
        return name in self.recording or any(run.claim.name == name for run in self.runs.values())

    # ------------------------------------------------------------------ main loop

    def _loop(self) -> None:
        now = time.monotonic()
        next_beat = now + self.cfg.heartbeat
        next_host = now
        next_poll = now
        next_leases = now
        next_notify = now + self.notify.interval
        while not self.stopping:
            try:
                now = time.monotonic()
                if now >= next_beat:
                    self._heartbeat()
                    self._check_launchers()
                    next_beat = now + self.cfg.heartbeat
                if now >= next_leases:  # slower than the poll: judging leases needs no more (daemon/leases.py)
                    self._recover_stale()
                    next_leases = now + self.cfg.lease_check * random.uniform(0.9, 1.1)
                if now >= next_poll:
                    self._check_controls()
                    self.rescan = True  # folders are re-listed when their mtime moved (scanner.py)
                    next_poll = now + self.cfg.poll * random.uniform(0.9, 1.1)
                if now >= next_host or self._host_changed(now):
                    self._write_host()
                    next_host = now + self.cfg.host_interval
                if now >= self.policy.next_tick() and self.policy.tick(self.runs, self.runner):
                    self._write_host()  # a suspension, resumption or owner order shows in `render hosts` at once
                self._check_timeouts()
                if self.side_runs:
                    self._reap_side_runs()
                self._fill_slots()
                if self._should_leave():
                    break
                if now >= next_notify:
                    self.notify.alive(self._status())
                    next_notify = now + self.notify.interval
                wake = min(next_beat, next_poll, next_leases, next_host, next_notify, self._next_deadline(),
                           self.policy.next_tick(), self.exit_rule.next_check())
                timeout = max(0.0, wake - time.monotonic())
                try:
                    self._handle(*self.events.get(timeout=timeout))
                    while True:
                        self._handle(*self.events.get_nowait())
                except queue.Empty:
                    pass
            except Exception:  # a spool or system error must not end the daemon: log it, pause, carry on
                log.exception("unexpected error in the daemon loop; carrying on")
                time.sleep(1)

    def _should_leave(self) -> bool:
        """A pilot's exit rules (renderd/pilot.py): nothing left for it, or its time limit is near."""
        if not self.exit_rule.active:
            return False
        if self.runs or next(iter(self.scanner.candidates(self._skip_job)), None) is not None:
            self.exit_rule.saw_work()  # something runs, or a chunk we may run is queued
        reason = self.exit_rule.leave_reason(len(self.runs))
        if reason is None:
            return False
        log.info("leaving: %s", reason)
        self.emit("daemon-leaving", reason=reason)
        self.stopping = True
        return True

    def _handle(self, kind: str, payload: Any) -> None:
        if kind == "wake":
            self.scanner.mark_dirty(payload)
            self.rescan = True
        elif kind == "msg":
            self._on_spawner(payload)
        elif kind == "progress":
            self._on_progress(*payload)
        elif kind == "recorded":
            self._recorded(*payload)
        elif kind == "control":  # `render` on this machine changed a job: look now, not at the next poll
            self._check_controls(every_job=True)
            self.policy.recheck()  # or `render host pause|drain|resume` changed this host
            self.look_again()

    def _check_controls(self, every_job: bool = False) -> None:
        """Every poll (and when `render` wakes us): stop cancelled jobs, suspend/resume paused ones."""
        if self.jobs.check(self.runs, {q.job for q in self.scanner.dirs}, every_job):
            self.look_again()  # resumed jobs: look at their folders again

    # ------------------------------------------------------------------ shutdown

    def _shutdown(self) -> None:
        """Stop running chunks, give them back, sign off.  Nothing new starts."""
        self.stopping = True
        self._stop_side_runs()
        self.notify.stopping(f"stopping: {len(self.runs)} chunk(s) to give back")
        if self.runs:
            log.info("stopping %d running chunk(s) and giving them back", len(self.runs))
        for run in self.runs.values():
            self.runner.stop(run, "shutdown")
        deadline = time.monotonic() + self.cfg.grace + 5
        while self.runs and time.monotonic() < deadline:
            self._heartbeat()
            try:
                self._handle(*self.events.get(timeout=0.5))
            except queue.Empty:
                pass
        if self.warm is not None:
            self.warm.close()  # idle warm Blenders: their sockets close, their launchers stop them
        self.spawner.close()
        self.policy.close()
        for run in list(self.runs.values()):  # the spawner is gone, and with it every launcher
            if run.launch is not None:  # frames it finished were moved as it ran; remove its staging folder
                run.launch.settle([], False)
            claim.give_back(self.spool, run.claim, run.info, "returned", self.cfg.name)
        self.runs.clear()
        self.recorder.close()  # every done record is written before we sign off
        while not self.events.empty():
            kind, payload = self.events.get_nowait()
            if kind == "recorded":
                self._recorded(*payload)
        self._write_host("offline")
        self.emit("daemon-stopped", pid=os.getpid())
        log.info("renderd %s stopped", self.cfg.name)

    # ------------------------------------------------------------------ socket, event log, progress

    def _start_talking(self) -> None:
        """Listeners for `emit` (the spool's event log, the local socket) and the progress reader."""
        self.listeners.append(EventLog(self.spool.event_log_path(self.cfg.name)))
        self.listeners.append(StatsLog(self.spool.stats_log_path(self.cfg.name)))
        # --mail (renderd/mailer.py)
        self.listeners.append(Mailer(self.spool, self.cfg.mail, self.cfg.name, self.cfg.admin_group))
        path = self.cfg.socket or protocol.default_socket_path(self.spool.root, self.cfg.name)
        policy = PeerPolicy(os.getuid(), self.cfg.admin_group)
        self.server = Server(path, self.cfg.name, policy, lambda: self.events.put(("control", None)))
        self.server.start()
        self.listeners.append(self.server.publish)
        self.progress = ProgressWatcher(self.events.put)
        self.progress.start()

    def _stop_talking(self) -> None:
        self.progress.close()
        self.server.close()
        for listener in self.listeners:
            if isinstance(listener, (EventLog, Mailer)):
                listener.close()
