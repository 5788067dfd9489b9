"""The per-chunk launcher: a single-threaded process between the daemon and a chunk's program.

It is forked by the spawner (never by the threaded daemon, where fork is unsafe), and it
- puts itself in a new session, becomes a child subreaper (orphaned grandchildren come to it)
  and asks for SIGTERM when its parent dies;
- forks the program in its own session and process group with nice 19, SCHED_IDLE, the idle I/O
  class (set in the program only: the launcher must stay responsive), no shell;
- copies the program's output to the chunk's log, capped in size;
- on SIGTERM (or when its parent vanishes) stops the program group: SIGCONT + SIGTERM,
  then SIGKILL to the group and every descendant after a grace period;
- when the program exits, kills whatever it left behind and reports the exit status.
It reports `started` and `exited` as single JSON lines (< PIPE_BUF, so atomic) on `out_fd`.
"""

from __future__ import annotations

import collections
import ctypes
import json
import os
import platform
import select
import signal
import time
from pathlib import Path
from typing import Any

from renderd.spool.io import SpoolIO
from renderd.spool.registry import open_file

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
IOPRIO_WHO_PROCESS = 1
IOPRIO_CLASS_IDLE = 3
IOPRIO_CLASS_SHIFT = 13
IOPRIO_SYSCALL = {"x86_64": 251, "aarch64": 30, "i686": 289, "i386": 289, "armv7l": 314, "ppc64le": 273}
NICENESS = 19
LOG_CAP = 64 * 1024 * 1024
TAIL_LINES = 200

_libc = ctypes.CDLL(None, use_errno=True)


def prctl(option: int, value: int) -> None:
    if _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def set_idle_io() -> bool:
    """ioprio_set(IOPRIO_WHO_PROCESS, 0, IDLE): honoured by the BFQ scheduler only."""
    nr = IOPRIO_SYSCALL.get(platform.machine())
    if nr is None:
        return False
    return int(_libc.syscall(nr, IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT)) == 0


def lower_priority() -> None:
    """nice 19, SCHED_IDLE, idle I/O: cannot be undone by an unprivileged child."""
    os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    set_idle_io()


def lower_session_group(path: str = "/proc/self/autogroup") -> bool:
    """Lower this session's CPU group to nice 19 (call it only in a session of the chunk's own).

    With CONFIG_SCHED_AUTOGROUP (on in most desktop kernels, used where the cpu cgroup
    controller is not) every session is a CPU group of its own, weighted as nice 0 whatever
    the nice value or SCHED_IDLE policy of its tasks: a chunk would get half a busy CPU against
    the owner's session.  Raising the group's nice value needs no privilege."""
    try:
        with open(path, "w", encoding="ascii") as fh:
            fh.write(str(NICENESS))
    except OSError:
        return False  # no autogroups here (disabled, or cgroups decide): nothing to lower
    return True


def descendants(root: int) -> list[int]:
    """All live descendants of `root`, read from /proc."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            children[int(fields[1])].append(int(entry))
    out: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(pgid: int, sig: int) -> None:
    """Signal the program's group and every descendant of this launcher (some may have left the group)."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class _Flags:
    stop = False


def _send(out_fd: int, message: dict[str, Any]) -> None:
    line = (json.dumps(message) + "\n").encode()[:4000]
    try:
        os.write(out_fd, line)
    except OSError:
        pass  # the daemon is gone; nothing to tell


def _exec_program(req: dict[str, Any], out_w: int, err_w: int) -> None:
    """In the forked program child: never returns."""
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        # A session of its own (and so a process group): with autogroups, a CPU group of its own,
        # lowered below without slowing the launcher, which must stay quick to report and to kill.
        os.setsid()
        if req.get("idle", True):
            lower_priority()
            lower_session_group()
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.closerange(3, err_w)
        os.closerange(err_w + 1, 65536)
        if req.get("cwd"):
            os.chdir(req["cwd"])
        argv = req["argv"]
        os.execvpe(argv[0], argv, req["env"])
    except BaseException as err:  # noqa: BLE001 - report anything to the launcher, then die
        msg = f"{type(err).__name__}: {err}".encode()[:1000]
        try:
            os.write(err_w, msg)
        finally:
            os._exit(127)


def _open_log(req: dict[str, Any]) -> int:
    """The chunk's log, made by the daemon a moment ago: opened under the spool root without
    following links (the folders may have been swapped since) and never a FIFO, which would
    block this launcher in open() for ever; no O_CREAT, so a name removed meanwhile is not
    made again somewhere else."""
    if isinstance(req.get("spool"), str):
        sio = SpoolIO(Path(req["spool"]))
        try:
            return sio.open(req["log"], os.O_WRONLY | os.O_APPEND)
        finally:
            sio.close()
    return open_file(req["log"], os.O_WRONLY | os.O_APPEND)


def _status(wait_status: int) -> tuple[int | None, int | None]:
    if os.WIFSIGNALED(wait_status):
        return None, os.WTERMSIG(wait_status)
    return os.waitstatus_to_exitcode(wait_status), None


def run(req: dict[str, Any], out_fd: int, parent: int) -> None:
    """Launcher body, in the child forked by the spawner.  Never returns."""
    code = 1
    try:
        code = _run(req, out_fd, parent)
    finally:
        os._exit(code)


def _run(req: dict[str, Any], out_fd: int, parent: int) -> int:
    token = req["token"]
    os.setsid()
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    flags = _Flags()

    def on_stop(_sig: int, _frame: object) -> None:
        flags.stop = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_stop)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if os.getppid() != parent:
        flags.stop = True
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)

    try:
        log_fd = _open_log(req)
    except OSError as err:
        _send(
            out_fd,
            {"token": token, "event": "exited", "code": None, "signal": None, "error": f"cannot open log: {err}"},
        )
        return 1
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(err_r)
        _exec_program(req, out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    exec_error = os.read(err_r, 2000).decode(errors="replace")
    os.close(err_r)
    if exec_error:
        os.waitpid(pid, 0)
        os.close(out_r)
        _send(out_fd, {"token": token, "event": "exited", "code": 127, "signal": None, "error": exec_error})
        return 0
    _send(out_fd, {"token": token, "event": "started", "launcher": os.getpid(), "program": pid})

    grace = float(req.get("grace", 10.0))
    log = _CappedLog(log_fd, int(req.get("log_cap", LOG_CAP)))
    pidfd = os.pidfd_open(pid)
    kill_at: float | None = None
    status: int | None = None
    open_pipe = True
    while status is None or open_pipe:
        if (flags.stop or os.getppid() != parent) and kill_at is None:
            flags.stop = True
            kill_tree(pid, signal.SIGCONT)
            kill_tree(pid, signal.SIGTERM)
            kill_at = time.monotonic() + grace
        if kill_at is not None and time.monotonic() >= kill_at:
            kill_tree(pid, signal.SIGKILL)
            kill_at = float("inf")
        watch = ([out_r] if open_pipe else []) + ([pidfd] if status is None else [])
        ready, _, _ = select.select(watch, [], [], 0.2)
        if pidfd in ready:
            status = os.waitpid(pid, 0)[1]
            os.close(pidfd)
            _kill_leftovers(pid)
        if out_r in ready:
            data = os.read(out_r, 65536)
            if data:
                log.write(data)
            else:
                open_pipe = False
    os.close(out_r)
    log.close()
    code, signum = _status(status)
    _send(out_fd, {"token": token, "event": "exited", "code": code, "signal": signum, "error": None,
                   "log_error": log.error})
    return 0


def _kill_leftovers(pgid: int) -> None:
    """Kill what a finished program left running, and reap it (we are its subreaper)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no children left, so no descendants either
        if pid == 0:
            kill_tree(pgid, signal.SIGKILL)
            time.sleep(0.01)


class _CappedLog:
    """Copies output to the log up to a cap, then keeps only the last lines for the end.

    A log that cannot be written (ENOSPC on a full spool, EPIPE or EIO from a FUSE mount, EFBIG)
    must not end the launcher: it would leave the program unwatched and the daemon without an
    `exited` message, the slot busy for ever.  So the first write error stops the logging (the
    output is still read, or the program would block on a full pipe), and `error` says why; the
    daemon writes it into the log's footer when it can and into its own log."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd = fd
        self.cap = cap
        self.written = 0
        self.tail: collections.deque[bytes] = collections.deque(maxlen=TAIL_LINES)
        self.error: str | None = None

    def _write(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError as err:
            self.error = f"stopped writing the log: {err.strerror or err}"
            self.tail.clear()

    def write(self, data: bytes) -> None:
        if self.error is not None:
            return
        if self.written < self.cap:
            room = self.cap - self.written
            self._write(data[:room])
            self.written += min(room, len(data))
            if self.written >= self.cap:
                self._write(f"\n[renderd: log capped at {self.cap} bytes; its last lines follow]\n".encode())
                data = data[room:]
            else:
                return
        self.tail.extend(data.splitlines(keepends=True))

    def close(self) -> None:
        if self.tail:
            self._write(b"".join(self.tail))
        try:
            os.close(self.fd)
        except OSError as err:  # NFS reports a failed write-back at close
            self.error = self.error or f"closing the log failed: {err.strerror or err}"
