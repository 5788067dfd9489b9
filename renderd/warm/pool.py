"""Which warm Blender renders a chunk; starting, reusing and replacing them (renderd --warm).

One warm Blender per slot at most.  A chunk goes to its slot's warm Blender when that one was
started for the same key (kinds/blender_warm.py: Blender, file, extra options, device), is
alive, has rendered fewer than `max_chunks` chunks and uses less memory than `max_rss`;
otherwise that one is retired (socket closed, its launcher told to stop) and a fresh one is
started through the spawner, exactly as a cold chunk's program is: in its own session at idle
priority, under a launcher that kills it when the daemon dies.

A chunk handed to a warm Blender is a `Run` like any other: its `program` is the Blender's pid
(the process group the daemon suspends and resumes), its `launcher` the warm launcher, so
stopping it (timeout, cancel, preemption, shutdown) stops that Blender, which is then replaced.
The pool turns the runner's `done` into the run's `exited` (code 0, or 1 when Blender said the
render failed), and the launcher's own `exited` (Blender crashed, was killed, hung and was
stopped) into the `exited` of the chunk it was rendering: a failed attempt, judged as ever.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd.kinds.blender_warm import WarmSpec
from renderd.runner import Run
from renderd.spawner import Spawner
from renderd.spool.io import SpoolIO
from renderd.warm.channel import Channel
from renderd.warm.settings import WarmSettings

log = logging.getLogger("renderd")
TOKEN_PREFIX = "warm-"


@dataclass
class WarmProc:
    slot: int
    key: tuple[str, ...]
    token: str
    channel: Channel
    argv: list[str]
    launcher: int | None = None
    program: int | None = None
    pidfd: int | None = None
    ready: bool = False
    run_token: str | None = None  # the chunk it renders now
    pending: tuple[dict[str, Any], int] | None = None  # a chunk (request, log fd) waiting for `ready`
    served: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    retired: bool = False


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def half_the_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (OSError, ValueError):
        return 8 << 30


class WarmPool:
    def __init__(self, spawner: Callable[[], Spawner], post: Callable[[dict[str, Any]], None], spool_root: Path,
                 grace: float, settings: WarmSettings) -> None:
        self._spawner, self._post, self.spool_root, self.grace = spawner, post, spool_root, grace
        self.settings = settings
        self.max_rss = settings.max_rss or half_the_memory()
        self._folder: Path | None = None  # made at the first warm Blender: a daemon that renders none leaves none
        self.by_slot: dict[int, WarmProc] = {}
        self.by_token: dict[str, WarmProc] = {}
        self._count = 0

    @property
    def folder(self) -> Path:
        """A 0700 folder of the daemon's own for the sockets and warm logs (short enough for socket names)."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="renderd-warm-"))
        return self._folder

    # ------------------------------------------------------------------ handing out chunks

    def loaded(self) -> set[str]:
        """The .blend files idle warm Blenders have loaded now (for the scheduler's tie-break)."""
        return {p.key[1] for p in self.by_slot.values()
                if not p.retired and p.run_token is None and p.key[0] != "blank"}

    def prestart(self, slot: int, spec: WarmSpec, cwd: str, env: Mapping[str, str]) -> None:
        """Start a Blender with no file for a free slot that has none (`--warm-prestart`)."""
        if slot not in self.by_slot:
            self._spawn(slot, spec, cwd, env)

    def slot_for(self, blend: str, free: list[int]) -> int | None:
        """A free slot whose idle warm Blender has this .blend loaded (None: none has)."""
        for slot in free:
            proc = self.by_slot.get(slot)
            if proc is not None and not proc.retired and proc.run_token is None and proc.key[1] == blend:
                return slot
        return None

    def start(self, run: Run, spec: WarmSpec, cwd: str, env: Mapping[str, str]) -> None:
        """Hand the run to its slot's warm Blender, starting one if it has none that fits."""
        proc = self.by_slot.get(run.slot)
        if proc is not None:
            why = self._unfit(proc, spec)
            if why is not None:
                self.retire(proc, why)
                proc = None
        if proc is None:
            proc = self._spawn(run.slot, spec, cwd, env)
        proc.key = spec.key  # a pre-started Blender is this file's from now on
        log_fd = SpoolIO(self.spool_root).open(run.log, os.O_WRONLY | os.O_APPEND)
        proc.run_token = run.token
        proc.served += 1
        proc.pending = ({"token": run.token, **spec.request}, log_fd)
        self._maybe_send(proc)

    def _unfit(self, proc: WarmProc, spec: WarmSpec) -> str | None:
        if proc.retired:
            return "it is stopping"
        if proc.key != spec.key and not (spec.blank_key is not None and proc.key == spec.blank_key):
            return "the next chunk is of another file or needs other Blender options"
        if proc.served >= self.settings.max_chunks:
            return f"it rendered {proc.served} chunks (--warm-chunks)"
        if proc.program is not None and rss_bytes(proc.program) > self.max_rss:
            return f"it uses more than {self.max_rss >> 20} MiB (--warm-max-mem)"
        return None

    def _spawn(self, slot: int, spec: WarmSpec, cwd: str, env: Mapping[str, str]) -> WarmProc:
        self._count += 1
        token = f"{TOKEN_PREFIX}{os.getpid()}-{self._count}"
        sock = self.folder / f"{slot}-{self._count}.sock"
        own_log = self.folder / f"{slot}.log"  # what Blender prints between chunks (load, reload)
        fd = os.open(own_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.close(fd)
        channel = Channel(sock, token, self._post)
        proc = WarmProc(slot, spec.key, token, channel, list(spec.argv))
        self.by_slot[slot] = proc
        self.by_token[token] = proc
        req = {"token": token, "argv": spec.argv, "cwd": cwd, "log": str(own_log), "grace": self.grace,
               "env": {**env, **spec.env, "RENDERD_WARM_SOCKET": str(sock)}}
        self._spawner().spawn(req)
        log.info("starting a warm Blender for slot %d: %s", slot, " ".join(spec.argv)[:200])
        return proc

    def _maybe_send(self, proc: WarmProc) -> dict[str, Any] | None:
        """Send the waiting chunk once the Blender is connected and its pid known; the run's `started`."""
        if proc.pending is None or not proc.ready or proc.program is None or proc.launcher is None:
            return None
        request, log_fd = proc.pending
        proc.pending = None
        try:
            os.write(log_fd, (f"renderd: rendered by a warm Blender (pid {proc.program}, chunk {proc.served} of it; "
                              f"started as {proc.argv!r})\n").encode())
            proc.channel.send(request, log_fd)
        except OSError as err:
            log.warning("cannot hand a chunk to the warm Blender %s: %s", proc.program, err)
            self.retire(proc, "its socket failed")  # its launcher's `exited` ends the run
        finally:
            os.close(log_fd)
        msg = {"event": "started", "token": request["token"], "launcher": proc.launcher, "program": proc.program}
        self._post(msg)
        return msg

    # ------------------------------------------------------------------ messages

    def owns(self, msg: Mapping[str, Any]) -> bool:
        return str(msg.get("token")) in self.by_token

    def on_message(self, msg: Mapping[str, Any]) -> dict[str, Any] | None:
        """A message about a warm Blender -> the message about the run it renders (or None)."""
        proc = self.by_token[str(msg["token"])]
        event = msg.get("event")
        if event == "forked" and isinstance(msg.get("launcher"), int):
            proc.launcher = int(msg["launcher"])
            self._open_pidfd(proc)
        elif event == "started":
            proc.launcher, proc.program = int(msg["launcher"]), int(msg["program"])
            self._open_pidfd(proc)
            self._maybe_send(proc)
        elif event == "warm-ready":
            proc.ready = True
            self._maybe_send(proc)
        elif event == "warm-done":
            if proc.run_token is None or msg.get("chunk_token") != proc.run_token:
                return None
            token, proc.run_token = proc.run_token, None
            proc.idle_since = time.monotonic()
            return {"event": "exited", "token": token, "code": 0 if msg.get("ok") is True else 1, "signal": None,
                    "error": None}
        elif event == "warm-closed":
            self.retire(proc, "it closed its socket")
        elif event == "exited":
            return self._gone(proc, msg)
        return None

    def _gone(self, proc: WarmProc, msg: Mapping[str, Any]) -> dict[str, Any] | None:
        """Its launcher ended: the Blender is gone (crashed, killed, stopped, or retired)."""
        self.by_token.pop(proc.token, None)
        if self.by_slot.get(proc.slot) is proc:
            del self.by_slot[proc.slot]
        proc.channel.close()
        self._close_pidfd(proc)
        if proc.pending is not None:
            os.close(proc.pending[1])
            proc.pending = None
        if not proc.retired:
            log.warning("the warm Blender of slot %d (pid %s) ended: code %s, signal %s", proc.slot, proc.program,
                        msg.get("code"), msg.get("signal"))
        if proc.run_token is None:
            return None
        return {**msg, "token": proc.run_token}

    # ------------------------------------------------------------------ retiring

    def retire(self, proc: WarmProc, why: str) -> None:
        """Stop a warm Blender: close its socket (the runner exits) and tell its launcher to stop it."""
        if proc.retired:
            return
        proc.retired = True
        log.info("replacing the warm Blender of slot %d (pid %s): %s", proc.slot, proc.program, why)
        if self.by_slot.get(proc.slot) is proc:
            del self.by_slot[proc.slot]
        proc.channel.close()
        if proc.pidfd is not None:
            try:
                signal.pidfd_send_signal(proc.pidfd, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def tick(self) -> None:
        """Stop warm Blenders that had no chunk for `idle_after` seconds (they hold memory)."""
        now = time.monotonic()
        for proc in list(self.by_slot.values()):
            if proc.run_token is None and proc.key[0] != "blank" and now - proc.idle_since > self.settings.idle_after:
                self.retire(proc, f"no chunk for {self.settings.idle_after:g} s")

    def reset(self) -> None:
        """The spawner died, and every launcher with it: forget them all."""
        for proc in list(self.by_token.values()):
            proc.retired = True
            proc.channel.close()
            self._close_pidfd(proc)
            if proc.pending is not None:
                os.close(proc.pending[1])
        self.by_slot.clear()
        self.by_token.clear()

    def close(self) -> None:
        for proc in list(self.by_token.values()):
            self.retire(proc, "the daemon stops")
        self.reset()
        if self._folder is None:
            return
        try:
            for entry in self._folder.iterdir():
                entry.unlink()
            self._folder.rmdir()
        except OSError:
            pass

    def _open_pidfd(self, proc: WarmProc) -> None:
        if proc.pidfd is None and proc.launcher is not None:
            try:
                proc.pidfd = os.pidfd_open(proc.launcher)
            except OSError:
                proc.pidfd = None

    @staticmethod
    def _close_pidfd(proc: WarmProc) -> None:
        if proc.pidfd is not None:
            os.close(proc.pidfd)
            proc.pidfd = None
