"""The daemon loop: watch the queue, claim chunks, run them at low priority, keep leases, recover.

Everything that touches the spool or a run happens on the main thread, except done records, which
the recorder's thread writes (renderd/recorder.py); other threads (watchdog, the spawner's reader)
only post events to `self.events`.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from renderd import blender, chunkslice, claim, host, protocol, sdnotify
from renderd.errors import BadInfoFile
from renderd.eventlog import EventLog
from renderd.fsinfo import fs_type, is_network_fs
from renderd.jobcontrol import JobGuard
from renderd.kinds import Capabilities, kind_of
from renderd.policy import HostPolicy, PolicyConfig
from renderd.progress import ProgressWatcher
from renderd.recorder import Recorder
from renderd.runner import Run, Runner
from renderd.scanner import QueueScanner, QueueWatch
from renderd.server import PeerPolicy, Server
from renderd.spawner import Spawner
from renderd.spawner_socket import SocketSpawner
from renderd.spool import ChunkInfo, ClaimName, QueueDir, Spool, host_is_live, relative_path_ok
from renderd.states import ChunkState

log = logging.getLogger("renderd")


@dataclass
class DaemonConfig:
    spool: Path
    name: str
    slots: int = 1
    poll: float = 5.0
    lease: float = 60.0
    allow_commands: bool = False
    allow_scripts: bool = False
    when: str = "always"
    chunk_timeout: float | None = None
    grace: float = 10.0
    blender: str = "blender"
    watch: bool = True
    chunk_slice: str | None = None
    spawner_socket: str | None = None
    policy: PolicyConfig = field(default_factory=PolicyConfig)  # the idle policy (its `when` is ours)
    idle_signals: list[str] = field(default_factory=list)
    activity_path: Path | None = None
    socket: Path | None = None  # default: protocol.default_socket_path
    admin_group: str | None = None  # may use the socket and change anyone's jobs

    @property
    def heartbeat(self) -> float:
        return min(5.0, self.lease / 4)


def _capabilities_of(record: dict[str, Any]) -> Capabilities:
    """What another daemon may run, from its host record (hostile input like any spool file: check types)."""
    version = record.get("blender_version")
    return Capabilities(
        allow_commands=record.get("allow_commands") is True,
        allow_scripts=record.get("allow_scripts") is True,
        blender_version=version if isinstance(version, str) else None,
    )


@dataclass
class _Deferred:
    until: float
    reason: str


@dataclass
class Daemon:
    cfg: DaemonConfig
    events: queue.SimpleQueue[tuple[str, Any]] = field(default_factory=queue.SimpleQueue)
    runs: dict[str, Run] = field(default_factory=dict)
    stopping: bool = False
    deferred: dict[str, _Deferred] = field(default_factory=dict)
    job_refusals: dict[str, str | None] = field(default_factory=dict)
    rescan: bool = True
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    notify: sdnotify.Notifier = field(default_factory=sdnotify.Notifier)  # systemd's Type=notify
    _tokens: int = 0
    _last_state: str = ""
    progress_now: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> last chunk-progress
    recording: set[ClaimName] = field(default_factory=set)  # claims whose done record the recorder writes

    # ------------------------------------------------------------------ set-up

    def run(self) -> int:
        self.spool = Spool.open(self.cfg.spool, create=True)
        if self.spool.created_layout and not is_network_fs(self.spool.root):
            log.warning(
                "WARNING: created a NEW spool at %s on a local %s file system: other hosts cannot see it. "
                "Is the shared folder mounted?",
                self.spool.root,
                fs_type(self.spool.root) or "(unknown)",
            )
        self._check_name()
        self._start_talking()
        self.caps = Capabilities(
            self.cfg.allow_commands, self.cfg.allow_scripts, self.cfg.blender, blender.host_version(self.cfg.blender)
        )
        if self.caps.blender_version is None:
            log.warning("no working Blender (%r): this host leaves Blender chunks to others", self.cfg.blender)
        self.spawner_prefix = chunkslice.scope_prefix(self.cfg.chunk_slice)
        self.spawner = self._new_spawner()
        self.runner = Runner(self.spawner, self.cfg.grace)
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
        self.scanner = QueueScanner(self.spool)
        self.watcher = claim.LeaseWatcher(self.spool, self.cfg.name, self.cfg.lease, self._is_mine)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        watch = QueueWatch(self.spool, lambda folder: self.events.put(("wake", folder))) if self.cfg.watch else None
        if watch is not None:
            watch.start()
        self.started_wall = time.time()
        log.info(
            "renderd %s on %s: spool %s, %d slot(s), lease %gs, poll %gs, commands %s",
            self.cfg.name,
            socket.gethostname(),
            self.spool.root,
            self.cfg.slots,
            self.cfg.lease,
            self.cfg.poll,
            "allowed" if self.cfg.allow_commands else "refused",
        )
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

    def _check_name(self) -> None:
        rec = self.spool.hosts().get(self.cfg.name)
        if rec is None or not host_is_live(rec):
            return
        same_machine = rec.get("hostname") == socket.gethostname()
        pid = rec.get("pid")
        if same_machine and isinstance(pid, int) and (pid == os.getpid() or not claim.pid_alive(pid)):
            return
        raise SystemExit(
            f"renderd: the name {self.cfg.name!r} is in use by pid {pid} on {rec.get('hostname')}; "
            "give this daemon another --name"
        )

    def _new_spawner(self) -> Spawner:
        """The spawner: our own child, or under systemd a service in the idle slice (spawner_socket.py)."""

        def post(msg: dict[str, Any]) -> None:
            self.events.put(("msg", msg))

        if self.cfg.spawner_socket:
            try:
                return SocketSpawner(post, self.cfg.spawner_socket)
            except OSError as err:
                log.warning("cannot reach the spawner at %s (%s): starting one here", self.cfg.spawner_socket, err)
        return Spawner(post, self.spawner_prefix)

    def emit(self, event: str, **data: Any) -> None:
        """Tell every listener (socket clients, the spool's event log) what happened."""
        message = {"event": event, "time": round(time.time(), 3), "host": self.cfg.name, **data}
        for listener in list(self.listeners):
            try:
                listener(message)
            except Exception:  # a broken listener must not stop the daemon
                log.exception("event listener failed")

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
        next_notify = now + self.notify.interval
        while not self.stopping:
            try:
                now = time.monotonic()
                if now >= next_beat:
                    self._heartbeat()
                    next_beat = now + self.cfg.heartbeat
                if now >= next_poll:
                    self._recover_stale()
                    self._check_controls()
                    self.scanner.mark_dirty()
                    self.rescan = True
                    next_poll = now + self.cfg.poll * random.uniform(0.9, 1.1)
                if now >= next_host:
                    self._write_host()
                    next_host = now + self.cfg.heartbeat
                if now >= self.policy.next_tick() and self.policy.tick(self.runs, self.runner):
                    self._write_host()  # a suspension, resumption or owner order shows in `render hosts` at once
                self._check_timeouts()
                self._fill_slots()
                if now >= next_notify:
                    self.notify.alive(self._status())
                    next_notify = now + self.notify.interval
                wake = min(next_beat, next_poll, next_host, next_notify, self._next_deadline(), self.policy.next_tick())
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
            self._check_controls()
            self.policy.recheck()  # or `render host pause|drain|resume` changed this host
            self.scanner.mark_dirty()
            self.rescan = True

    def _next_deadline(self) -> float:
        deadlines = [r.deadline for r in self.runs.values() if r.deadline is not None and r.stop_reason is None]
        return min(deadlines, default=float("inf"))

    # ------------------------------------------------------------------ leases

    def _heartbeat(self) -> None:
        for run in list(self.runs.values()):
            if run.stop_reason == "lost":
                continue
            previous = run.claim.beat_at
            try:
                kept = claim.beat(run.claim)
            except OSError as err:
                log.warning("heartbeat of %s failed: %s", run.info.chunk, err)
                continue
            gap = time.monotonic() - previous  # also when the beat found the claim taken
            if gap >= self.cfg.lease / 2:  # the one way a live host loses a lease: say so
                log.warning(
                    "heartbeat of %s came %.2fs after the previous one (lease %gs): this host or its file system "
                    "stalled",
                    run.info.chunk,
                    gap,
                    self.cfg.lease,
                )
            if not kept:
                log.warning("lost the claim of %s (its lease was taken over): stopping it", run.info.chunk)
                self.runner.stop(run, "lost")

    def _recover_stale(self) -> None:
        try:
            stale = self.watcher.stale()
            swept = self.watcher.sweep_heartbeats()
        except OSError as err:
            log.warning("cannot check leases: %s", err)
            return
        if swept:
            log.info("removed %d heartbeat file(s) left by a daemon that died while dropping its claim", swept)
        for name in stale:
            try:
                state = claim.recover(self.spool, name, self.cfg.name)
            except OSError as err:
                log.warning("cannot recover %s: %s", name.chunk, err)
                continue
            if state is not None:
                log.info("re-queued %s: lease of %s (pid %d) expired -> %s", name.chunk, name.host, name.pid, state)
                self.emit("chunk-requeued", chunk=name.chunk, job=name.job, lost_host=name.host, state=state)
                self.scanner.mark_dirty()
                self.rescan = True

    # ------------------------------------------------------------------ claiming

    def _accepting(self) -> bool:
        return not self.stopping and self.cfg.when != "never" and self.policy.may_start

    def _skip_job(self, qdir: QueueDir) -> bool:
        return self.job_refusals.get(qdir.name) is not None or qdir.job in self.jobs.held

    def _fill_slots(self) -> None:
        if not self._accepting() or len(self.runs) >= self.cfg.slots:
            return
        if self.rescan:
            self.scanner.refresh(self._skip_job)
            self.rescan = False
            while self.scanner.linked:
                self._quarantine_linked(self.scanner.linked.pop())
        now = time.monotonic()
        for qdir, chunk in self.scanner.candidates(self._skip_job):
            if len(self.runs) >= self.cfg.slots or self.stopping:
                return
            d = self.deferred.get(chunk)
            if d is not None and d.until > now:
                continue
            self._try_chunk(qdir, chunk)

    def _try_chunk(self, qdir: QueueDir, chunk: str) -> None:
        path = self.spool.queue_path(qdir, chunk)
        try:
            info = self.spool.read_info(path)
        except FileNotFoundError:
            self.scanner.forget(qdir, chunk)
            return
        except BadInfoFile as err:
            self._quarantine(qdir, chunk, path, err.message)
            return
        except OSError as err:
            log.warning("cannot read %s: %s", path, err)
            return
        if info.job != qdir.job:
            self._quarantine(qdir, chunk, path, f"belongs to job {info.job!r}, found in the folder of {qdir.job!r}")
            return
        if self.jobs.holds_at_claim(info.job):
            return
        refusal = self._refusal(info)
        if qdir.name not in self.job_refusals:
            # One kind and one set of requirements per job: decide once for the whole folder.
            self.job_refusals[qdir.name] = refusal
            if refusal is not None:
                log.info("leaving job %s to other hosts: %s", qdir.job, refusal)
        if refusal is not None:
            return
        preference = self._prefer_others(info)
        if preference is not None:
            self.deferred[chunk] = _Deferred(time.monotonic() + self.cfg.poll, preference)
            return
        taken = claim.take(self.spool, path, chunk, self.cfg.name)
        self.scanner.forget(qdir, chunk)
        if taken is not None:
            self.deferred.pop(chunk, None)
            self._start(taken)

    def _refusal(self, info: ChunkInfo) -> str | None:
        kind = kind_of(info)
        if kind is None:
            return f"this renderd cannot run {info.kind!r} chunks"
        return kind.refuse(info, self.caps)

    def _prefer_others(self, info: ChunkInfo) -> str | None:
        """A chunk that failed here waits while a live host that has not failed it and may run it exists."""
        if self.cfg.name not in info.failed_hosts:
            return None
        kind = kind_of(info)
        for name, rec in self.spool.hosts().items():
            if name == self.cfg.name or name in info.failed_hosts or not host_is_live(rec):
                continue
            if kind is not None and kind.refuse(info, _capabilities_of(rec)) is not None:
                continue  # e.g. a host without --allow-commands: waiting for it would wait for ever
            return f"failed here before; {name} may try it"
        return None

    def _quarantine_linked(self, qdir: QueueDir) -> None:
        self._quarantine(None, "", self.spool.root / "queue" / qdir.name, "the job's queue folder is a symbolic link")

    def _quarantine(self, qdir: QueueDir | None, chunk: str, path: Path, reason: str) -> None:
        if qdir is not None:
            self.scanner.forget(qdir, chunk)
        try:
            dest = self.spool.quarantine(path, reason)
        except OSError as err:
            log.warning("cannot quarantine %s: %s", path, err)
            return
        if dest is not None:
            log.warning("quarantined %s -> bad/%s: %s", path.name, dest.name, reason)

    # ------------------------------------------------------------------ running

    def _start(self, held: claim.Claim) -> None:
        try:
            info = self.spool.read_info(held.path)
            if info.chunk != held.name.chunk:
                raise BadInfoFile(f"holds chunk {info.chunk!r}", held.path)
        except BadInfoFile as err:
            log.warning("quarantined claimed %s: %s", held.name.chunk, err.message)
            claim.quarantine_claim(self.spool, held, err.message)
            return
        kind = kind_of(info)
        refusal = self._refusal(info)
        if kind is None or refusal is not None:
            claim.give_back(self.spool, held, info, "left", self.cfg.name)
            return
        cwd = self._cwd(info)
        if cwd is None or not os.path.isdir(cwd):
            claim.finish_failed(
                self.spool,
                held,
                info,
                f"working directory {info.cwd!r} does not exist on {self.cfg.name}",
                self.cfg.name,
            )
            return
        argv = kind.argv(info, self.spool, self.caps)
        log_path = self.spool.log_path(info.job, info.chunk, self.cfg.name, info.run_number)
        header = (
            f"renderd: {info.chunk} frames {info.start}-{info.end}:{info.step} on {self.cfg.name}, "
            f"run {info.run_number}\nrenderd: argv {argv!r}\n"
        )
        try:
            self.spool.ensure_job_dir(info.job, "logs")
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
        except BadInfoFile as err:
            log.warning("quarantined claimed %s: %s", info.chunk, err)
            claim.quarantine_claim(self.spool, held, str(err))
            return
        except OSError as err:
            claim.finish_failed(self.spool, held, info, f"cannot write its log {log_path}: {err}", self.cfg.name)
            return
        with os.fdopen(fd, "ab") as fh:
            fh.write(header.encode())
        self._tokens += 1
        run = Run(f"{os.getpid()}-{self._tokens}", info, held, log_path, argv)
        timeout = info.timeout or self.cfg.chunk_timeout
        if timeout:
            run.deadline = run.started + timeout
        self.runs[run.token] = run
        self.runner.start(run, cwd, self._env(info))
        self.progress.watch(run.token, log_path, len(info.frames))
        log.info("claimed %s (frames %d-%d) -> %s", info.chunk, info.start, info.end, " ".join(argv)[:200])
        self.emit("chunk-claimed", chunk=info.chunk, job=info.job, start=info.start, end=info.end, step=info.step,
                  run=info.run_number, log=str(log_path.relative_to(self.spool.root)))

    def _cwd(self, info: ChunkInfo) -> str | None:
        if not info.cwd:
            return str(self.spool.root)
        if info.cwd.startswith("/"):
            return info.cwd
        return str(self.spool.root / info.cwd) if relative_path_ok(info.cwd) else None

    def _env(self, info: ChunkInfo) -> dict[str, str]:
        env = dict(os.environ)
        env.update(info.env)
        env.update(
            RENDERD_SPOOL=str(self.spool.root),
            RENDERD_JOB=info.job,
            RENDERD_CHUNK=info.chunk,
            RENDERD_START=str(info.start),
            RENDERD_END=str(info.end),
            RENDERD_STEP=str(info.step),
            RENDERD_HOST=self.cfg.name,
        )
        return env

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for run in self.runs.values():
            if run.deadline is not None and now >= run.deadline and run.stop_reason is None:
                log.warning("%s ran past its time limit: stopping it", run.info.chunk)
                self.runner.stop(run, "timeout")

    def _on_spawner(self, msg: dict[str, Any]) -> None:
        event = msg.get("event")
        if event == "spawner-gone":
            self._spawner_gone()
            return
        run = self.runs.get(str(msg.get("token")))
        if run is None:
            return
        if event == "started":
            self.runner.started(run, int(msg["launcher"]), int(msg["program"]))
            self.emit("chunk-started", chunk=run.info.chunk, job=run.info.job, pid=run.program)
        elif event == "exited":
            del self.runs[run.token]
            self.runner.finished(run)
            try:
                self._finish(run, msg)
            except OSError as err:
                log.error("cannot record the end of %s: %s (its lease will expire)", run.info.chunk, err)

    def _spawner_gone(self) -> None:
        if self.stopping:
            return
        log.error("the spawner process died; its chunks died with it: giving them back and restarting it")
        for run in list(self.runs.values()):
            del self.runs[run.token]
            claim.give_back(self.spool, run.claim, run.info, "returned", self.cfg.name)
        self.spawner = self._new_spawner()
        self.runner.spawner = self.spawner

    def _finish(self, run: Run, msg: dict[str, Any]) -> None:
        info, name = run.info, self.cfg.name
        code, sig, error = msg.get("code"), msg.get("signal"), msg.get("error")
        seconds = round(run.elapsed, 3)
        outputs = self._end_progress(run)
        if run.stop_reason == "cancel":
            self._finish_cancelled(run)
            return
        if run.stop_reason == "lost":
            self._footer(run, "stopped: the claim was taken over by another host")
            self.emit("chunk-lost", chunk=info.chunk, job=info.job)
            return
        if run.stop_reason in ("shutdown", "preempt"):
            self._footer(run, f"stopped ({run.stop_reason}); chunk given back to the queue")
            claim.give_back(
                self.spool, run.claim, info, "returned" if run.stop_reason == "shutdown" else "preempted", name
            )
            self.emit("chunk-requeued", chunk=info.chunk, job=info.job, reason=run.stop_reason, state="queued")
            return
        reason: str | None
        if run.stop_reason == "timeout":
            reason = f"timed out after {seconds:g} s"
        elif error:
            reason = f"could not start: {error}"
        elif sig is not None:
            reason = f"killed by signal {signal.Signals(sig).name}"
        elif code != 0:
            reason = f"exit code {code}"
        else:
            kind = kind_of(info)
            reason = kind.check_result(info, self.spool, run.log) if kind is not None else None
        if reason is None:
            self._footer(run, f"done in {seconds:g} s")
            record = {
                "chunk": info.chunk,
                "job": info.job,
                "host": name,
                "run": info.run_number,
                "start": info.start,
                "end": info.end,
                "step": info.step,
                "frames": len(info.frames),
                "started": round(run.started_wall, 3),
                "finished": round(time.time(), 3),
                "seconds": seconds,
                "log": str(run.log.relative_to(self.spool.root)),
                # the info file is deleted: keep why this chunk took more than one run
                "attempts": info.attempts,
                "requeues": info.requeues,
                "history": info.history,
                **outputs,  # saved files and per-frame times read from the output
            }
            # The record's fsync runs on the recorder's thread: the slot takes its next chunk meanwhile.
            self.recording.add(run.claim.name)
            self.recorder.record(
                lambda: claim.finish_done(self.spool, run.claim, info, record), (info, seconds, run.claim.name)
            )
            return
        self._footer(run, f"FAILED: {reason}")
        state = claim.finish_failed(self.spool, run.claim, info, reason, name)
        self.rescan = True
        log.warning("failed %s: %s -> %s", info.chunk, reason, state or "claim lost")
        self.emit("chunk-failed", chunk=info.chunk, job=info.job, reason=reason, state=state, seconds=seconds,
                  log=str(run.log.relative_to(self.spool.root)))

    def _recorded(self, tag: tuple[ChunkInfo, float, ClaimName], ok: bool, error: Exception | None) -> None:
        """The recorder wrote a done record and dropped the claim (or could not)."""
        info, seconds, held = tag
        self.recording.discard(held)
        if error is not None:
            log.error("cannot record the end of %s: %s (its lease will expire)", info.chunk, error)
        elif ok:
            log.info("done %s in %.2fs", info.chunk, seconds)
            self.emit("chunk-finished", chunk=info.chunk, job=info.job, seconds=seconds, frames=len(info.frames))
        else:
            log.warning("%s finished but its claim was taken over meanwhile: result not recorded", info.chunk)

    def _footer(self, run: Run, text: str) -> None:
        try:
            with open(run.log, "ab") as fh:
                fh.write(f"\nrenderd: {text}\n".encode())
        except OSError as err:
            log.warning("cannot write to %s: %s", run.log, err)

    # ------------------------------------------------------------------ host record

    def _state(self) -> str:
        if self.stopping:
            return "stopping"
        imposed = self.policy.state()  # paused / drain by the owner
        if imposed is not None:
            return imposed
        if not self.runs:
            return "idle"
        return "suspended" if all(r.suspended for r in self.runs.values()) else "busy"

    def _status(self) -> str:
        """One line for `systemctl status`."""
        chunks = ", ".join(r.info.chunk for r in self.runs.values())
        return f"{self._state()}: {len(self.runs)}/{self.cfg.slots} slot(s) busy" + (f" ({chunks})" if chunks else "")

    def _write_host(self, state: str | None = None) -> None:
        current = state or self._state()
        if current != self._last_state:
            self.emit("host-state", state=current, previous=self._last_state or None)
            self._last_state = current
        chunks = [
            {
                "chunk": r.info.chunk,
                "job": r.info.job,
                "start": r.info.start,
                "end": r.info.end,
                "started": round(r.started_wall, 3),
                "pid": r.program,
                "suspended": r.suspended,
                "progress": self.progress_now.get(r.token),
            }
            for r in self.runs.values()
        ]
        extra = {
            "heartbeat": round(time.time(), 3),
            "started": round(self.started_wall, 3),
            "stale_after": max(15.0, 6 * self.cfg.heartbeat),
            "slots": self.cfg.slots,
            "allow_commands": self.cfg.allow_commands,
            "allow_scripts": self.cfg.allow_scripts,
            "blender_version": self.caps.blender_version,
            "when": self.cfg.when,
            "queued_seen": self.scanner.queued_count(),
            "admin_group": self.cfg.admin_group,
            **self.policy.record(),
        }
        try:
            self.spool.write_host(self.cfg.name, host.record(self.cfg.name, current, chunks, extra))
        except OSError as err:
            log.warning("cannot write the host record: %s", err)

    # ------------------------------------------------------------------ shutdown

    def _shutdown(self) -> None:
        """Stop running chunks, give them back, sign off.  Nothing new starts."""
        self.stopping = True
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
        self.spawner.close()
        self.policy.close()
        for run in list(self.runs.values()):  # the spawner is gone, and with it every launcher
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
            if isinstance(listener, EventLog):
                listener.close()

    def _on_progress(self, token: str, summary: dict[str, Any]) -> None:
        run = self.runs.get(token)
        if run is None:
            return
        self.progress_now[token] = summary
        self.emit("chunk-progress", chunk=run.info.chunk, job=run.info.job, **summary)

    def _end_progress(self, run: Run) -> dict[str, Any]:
        """What the output told about the finished run: saved files and per-frame times."""
        self.progress_now.pop(run.token, None)
        self.jobs.forget(run.token)
        parsed = self.progress.forget(run.token)
        if parsed is None or not (parsed.saved or parsed.frame_times):
            return {}
        return {"saved": parsed.saved[-1000:], "frame_times": parsed.frame_times[-1000:]}

    # ------------------------------------------------------------------ job control (render cancel/pause/resume)

    def _check_controls(self) -> None:
        """Every poll (and when `render` wakes us): stop cancelled jobs, suspend/resume paused ones."""
        if self.jobs.check(self.runs, {q.job for q in self.scanner.dirs}):
            self.rescan = True  # resumed jobs: look at their folders again
            self.scanner.mark_dirty()

    def _finish_cancelled(self, run: Run) -> None:
        """A run stopped by `render cancel`: recorded as cancelled, not as a failed attempt."""
        self._footer(run, "cancelled (render cancel)")
        if not claim.still_ours(run.claim):
            return
        self.spool.record_cancelled(run.claim.path, run.info, ChunkState.CLAIMED, self.cfg.name)
        run.claim.heartbeat.unlink(missing_ok=True)
        self.emit("chunk-cancelled", chunk=run.info.chunk, job=run.info.job, seconds=round(run.elapsed, 3))
