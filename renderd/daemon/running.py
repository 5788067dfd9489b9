"""Starting a claimed chunk (argv, cwd, env, log header) and following it through the spawner.

The spawner's messages (`started`, `exited`, `spawner-gone`) arrive on the main thread as
events; an `exited` run is handed to finishing.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from renderd import chunkenv, claim
from renderd.daemon.claiming import refusal
from renderd.daemon.finishing import FinishingMixin
from renderd.daemon.state import log
from renderd.errors import BadInfoFile
from renderd.kinds import kind_of
from renderd.runner import Run
from renderd.spawner import Spawner
from renderd.spawner_socket import SocketSpawner
from renderd.spool import ChunkInfo, relative_path_ok


class RunningMixin(FinishingMixin):
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
            claim.finish_failed(
                self.spool,
                held,
                info,
                f"working directory {info.cwd!r} does not exist on {self.cfg.name}",
                self.cfg.name,
            )
            return
        try:
            launch = kind.launch(info, self.spool, self.caps, self.notes)
        except BadInfoFile as err:
            log.warning("quarantined claimed %s: %s", info.chunk, err.message)
            claim.quarantine_claim(self.spool, held, err.message)
            return
        except OSError as err:
            claim.finish_failed(self.spool, held, info, f"cannot prepare its run: {err.strerror or err}", self.cfg.name)
            return
        argv = launch.argv
        log_path = self.spool.log_path(info.job, info.chunk, self.cfg.name, info.run_number)
        header = (
            f"renderd: {info.chunk} frames {info.start}-{info.end}:{info.step} on {self.cfg.name}, "
            f"run {info.run_number}\nrenderd: argv {argv!r}\n"
        )
        try:
            self.spool.ensure_job_dir(info.job, "logs")
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
        except BadInfoFile as err:
            launch.settle([], False)
            log.warning("quarantined claimed %s: %s", info.chunk, err)
            claim.quarantine_claim(self.spool, held, str(err))
            return
        except OSError as err:
            launch.settle([], False)
            claim.finish_failed(self.spool, held, info, f"cannot write its log {log_path}: {err}", self.cfg.name)
            return
        with os.fdopen(fd, "ab") as fh:
            fh.write(header.encode())
        self._tokens += 1
        run = Run(f"{os.getpid()}-{self._tokens}", info, held, log_path, argv, launch)
        timeout = info.timeout or self.cfg.chunk_timeout
        if timeout:
            run.deadline = run.started + timeout
        self.runs[run.token] = run
        self.runner.start(run, cwd, self._env(info))
        self.progress.watch(run.token, log_path, len(info.frames), launch.collect)
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
