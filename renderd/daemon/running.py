"""Starting a claimed chunk (argv, cwd, env, log header) and following it through the spawner.

The spawner's messages (`started`, `exited`, `spawner-gone`) arrive on the main thread as
events; an `exited` run is handed to finishing.py.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from renderd import chunkenv, claim
from renderd.daemon.claiming import refusal
from renderd.daemon.finishing import FinishingMixin
from renderd.daemon.state import log
from renderd.errors import BadInfoFile
from renderd.format.info import ChunkInfo, relative_path_ok
from renderd.kinds import kind_of
from renderd.kinds.blender import on_this_host
from renderd.kinds.blender_warm import WarmSpec, blank_spec
from renderd.runner import Run
from renderd.spawner import Spawner
from renderd.spawner_socket import SocketSpawner
from renderd.spool.io import describe

LAUNCHER_GRACE = 5.0  # seconds a launcher may be gone before its run ends without its `exited`


def input_problem(info: ChunkInfo, spool_root: Path) -> str | None:
    """Why an input the chunk's program will open cannot be used (None: it can).

    A .blend that is a FIFO would block Blender in open() for ever, holding the slot; `stat`
    tells without opening (it never blocks on a FIFO).  The link is followed on purpose: a
    .blend may be a symlink into a shared asset tree; what it names must be a regular file.
    (A swap between this check and Blender's open is left to --chunk-timeout.)"""
    if info.kind != "blender" or not isinstance((info.blender or {}).get("file"), str):
        return None
    path = on_this_host(spool_root, str((info.blender or {})["file"]))
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return f"cannot use the .blend {path}: {err.strerror}"
    if not stat.S_ISREG(mode):
        return f"the .blend {path} is {describe(mode)}, not a regular file"
    return None


class RunningMixin(FinishingMixin):
    """Starts claimed chunks through the spawner and follows their launchers until they end."""

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
        if kind is None or refusal(info, self.caps) is not None:
            claim.give_back(self.spool, held, info, "left", self.cfg.name)
            return
        cwd = self._cwd(info)
        if cwd is None or not os.path.isdir(cwd):
            self._fail_before_start(held, info, f"working directory {info.cwd!r} does not exist on {self.cfg.name}")
            return
        problem = input_problem(info, self.spool.root)
        if problem is not None:
            self._fail_before_start(held, info, problem)
            return
        slot = self._free_slot(info)
        try:
            launch = kind.launch(info, self.spool, self.devices.caps_for(self.caps, slot), self.notes)
        except BadInfoFile as err:
            log.warning("quarantined claimed %s: %s", info.chunk, err.message)
            claim.quarantine_claim(self.spool, held, err.message)
            return
        except OSError as err:
            self._fail_before_start(held, info, f"cannot prepare its run: {err.strerror or err}")
            return
        argv = launch.argv
        log_path = self.spool.log_path(info.job, info.chunk, self.cfg.name, info.run_number)
        header = (
            f"renderd: {info.chunk} frames {info.start}-{info.end}:{info.step} on {self.cfg.name}, "
            f"run {info.run_number}\nrenderd: argv {argv!r}\n"
        )
        try:
            self.spool.ensure_job_dir(info.job, "logs")
            fd = self.spool.open_own(log_path)  # a FIFO or link planted at this predictable name goes to bad/
        except BadInfoFile as err:
            launch.settle([], False)
            log.warning("quarantined claimed %s: %s", info.chunk, err)
            claim.quarantine_claim(self.spool, held, str(err))
            return
        except OSError as err:
            launch.settle([], False)
            self._fail_before_start(held, info, f"cannot write its log {log_path}: {err.strerror or err}")
            return
        try:
            with os.fdopen(fd, "ab") as fh:
                fh.write(header.encode())
        except OSError as err:  # e.g. ENOSPC: the launcher could not log either
            launch.settle([], False)
            self._fail_before_start(held, info, f"cannot write its log {log_path}: {err.strerror or err}")
            return
        self._tokens += 1
        run = Run(f"{os.getpid()}-{self._tokens}", info, held, log_path, argv, launch, slot=slot)
        timeout = info.timeout or self.cfg.chunk_timeout
        if timeout:
            run.deadline = run.started + timeout
        run.cwd, run.env = cwd, self._env(info)
        if self.cfg.runs_hooks:  # (a daemon that runs none does not read a 16 MiB manifest per chunk for them)
            self._plan_phases(run, self._owners_manifest(info.job))
        self.runs[run.token] = run
        warm = getattr(launch, "warm", None)
        if self.warm is not None and isinstance(warm, WarmSpec) and run.phase == "main":  # (after a pre hook: cold)
            try:
                self.warm.start(run, warm, cwd, run.env)
            except OSError as err:
                del self.runs[run.token]
                launch.settle([], False)
                self._fail_before_start(held, info, f"cannot start a warm Blender: {err.strerror or err}")
                return
        else:
            self.runner.start(run, cwd, run.env)
        self.progress.watch(run.token, log_path, len(info.frames), launch.collect)
        log.info("claimed %s (frames %d-%d) -> %s", info.chunk, info.start, info.end, " ".join(argv)[:200])
        self.emit("chunk-claimed", chunk=info.chunk, job=info.job, start=info.start, end=info.end, step=info.step,
                  run=info.run_number, log=str(log_path.relative_to(self.spool.root)))

    def _prestart(self) -> None:
        """`--warm-prestart`: a Blender with no file in each free slot that has no warm Blender."""
        if self.warm is None or not self.cfg.warm_settings.prestart or self.caps.blender_version is None:
            return
        if self.stopping:
            return
        busy = {r.slot for r in self.runs.values()}
        for slot in range(self.cfg.slots):
            if slot not in busy:
                spec = blank_spec(self.caps.blender, self.devices.found.spec_of(slot))
                try:
                    self.warm.prestart(slot, spec, str(self.spool.root), dict(os.environ))
                except OSError as err:
                    log.warning("cannot pre-start a Blender for slot %d: %s", slot, err)

    def _free_slot(self, info: ChunkInfo) -> int:
        """The lowest free slot, or a free one whose warm Blender has this chunk's .blend loaded."""
        free = sorted(set(range(self.cfg.slots + 1)) - {r.slot for r in self.runs.values()})
        recorded = (info.blender or {}).get("file")
        if self.warm is not None and info.kind == "blender" and isinstance(recorded, str):
            warm = self.warm.slot_for(str(on_this_host(self.spool.root, recorded)), free)
            if warm is not None:
                return warm
        return free[0]

    def _fail_before_start(self, held: claim.Claim, info: ChunkInfo, reason: str) -> None:
        state = self._fail_attempt(held, info, reason)
        log.warning("failed %s before it started: %s -> %s", info.chunk, reason, state or "claim lost")
        self.emit("chunk-failed", chunk=info.chunk, job=info.job, reason=reason, state=state, seconds=0.0)

    def _check_launchers(self) -> None:
        """End the runs whose launcher died without an `exited` message (killed, crashed).

        Such a run would hold its slot and keep its lease alive for ever.  A launcher reports
        `exited` before it exits, so a run still here LAUNCHER_GRACE seconds (and a heartbeat)
        after its launcher was seen gone will not hear from it: it ends as a failed attempt.  The
        grace is for a reader thread slowed by a loaded machine: a real `exited` must win."""
        now = time.monotonic()
        if self.warm is not None:
            self.warm.tick()
            self._prestart()
        for run in list(self.runs.values()):
            if run.launcher_gone_at is None:
                if self.runner.launcher_gone(run):
                    run.launcher_gone_at = now
                continue
            if now - run.launcher_gone_at < LAUNCHER_GRACE or run.token not in self.runs:
                continue
            pid = run.launcher or run.forked
            log.error("the launcher of %s (pid %s) died without reporting its end", run.info.chunk, pid)
            self.runner.kill_group(run)
            self._on_spawner({"event": "exited", "token": run.token, "code": None, "signal": None,
                              "died": f"pid {pid} exited without reporting the end of the run"})

    def _cwd(self, info: ChunkInfo) -> str | None:
        if not info.cwd:
            return str(self.spool.root)
        if info.cwd.startswith("/"):
            return info.cwd
        return str(self.spool.root / info.cwd) if relative_path_ok(info.cwd) else None

    def _env(self, info: ChunkInfo) -> dict[str, str]:
        return chunkenv.chunk_env(info, self.spool.root, self.cfg.name, self.caps.allow_commands)

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for run in self.runs.values():
            if run.deadline is not None and now >= run.deadline and run.stop_reason is None:
                log.warning("%s ran past its time limit: stopping it", run.info.chunk)
                self.runner.stop(run, "timeout")

    def _next_deadline(self) -> float:
        deadlines = [r.deadline for r in self.runs.values() if r.deadline is not None and r.stop_reason is None]
        return min(deadlines, default=float("inf"))

    def _on_spawner(self, msg: Mapping[str, Any]) -> None:
        event = msg.get("event")
        if event == "spawner-gone":
            self._spawner_gone()
            return
        if self.warm is not None and self.warm.owns(msg):  # a warm Blender's news -> its chunk's (warm/pool.py)
            translated = self.warm.on_message(msg)
            if translated is None:
                return
            msg, event = translated, translated.get("event")
        run = self.runs.get(str(msg.get("token")))
        if run is None:
            return
        if event == "forked" and isinstance(msg.get("launcher"), int):
            self.runner.forked(run, int(msg["launcher"]))
        elif event == "started":
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
            if run.launch is not None:  # frames it finished were moved as it ran; remove its staging folder
                run.launch.settle([], False)
            claim.give_back(self.spool, run.claim, run.info, "returned", self.cfg.name)
        if self.warm is not None:
            self.warm.reset()
        self.spawner = self._new_spawner()
        self.runner.spawner = self.spawner
