"""Is the owner using this machine?  Signals of owner activity, each optional, and memory pressure.

Every signal answers one question: when (wall-clock seconds) did it last see the owner?
`None` means "this signal cannot tell" (not available here, or nothing to judge by); the
host's owner-idle time is the time since the newest activity any signal saw, and a host on
which no signal can tell anything (a headless box without sessions) counts as idle.

Signals (docs/idle.md explains each choice):
- `logind`: systemd-logind's user sessions, read from `loginctl show-session` text.
- `input`:  the last event time on readable /dev/input/event* devices (keys, pointer).
- `tty`:    access times of /dev/pts/* and /dev/tty[0-9]* (as HTCondor does; the kernel
            updates them with 8 s granularity).
- `cpu`:    CPU time used by processes that are not the farm's: everything but the `nice`
            column of /proc/stat (chunks run at nice 19), minus the daemon's own use.
- `path`:   the mtime of `--activity-path` (custom sensors, tests).
"""

from __future__ import annotations

import errno
import glob
import logging
import os
import re
import struct
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from renderd.host import meminfo

log = logging.getLogger(__name__)

SIGNALS = ("logind", "input", "tty", "cpu")
LOGIND_PROPERTIES = (
    "Id",
    "Name",
    "Class",
    "Type",
    "Remote",
    "State",
    "Active",
    "IdleHint",
    "IdleSinceHint",
    "IdleSinceHintMonotonic",
    "LockedHint",
)
# struct input_event: struct timeval (two longs), __u16 type, __u16 code, __s32 value.
INPUT_EVENT = struct.Struct("@llHHi")
EV_KEY, EV_REL, EV_ABS = 1, 2, 3
OWNER_EVENT_TYPES = frozenset({EV_KEY, EV_REL, EV_ABS})
TTY_RE = re.compile(r"^/dev/(pts/\d+|tty\d+)$")


@dataclass
class Reading:
    """What one signal says now: `last` = wall time of the newest owner activity it saw."""

    signal: str
    available: bool
    last: float | None
    detail: str


class Probe:
    """One signal.  `read` is cheap enough for every policy tick unless `interval` says otherwise."""

    name = ""
    interval = 0.0  # minimum seconds between real samples; the last reading is reused in between
    slow_interval = 0.0  # the same while no chunk runs (nothing to suspend): for the costly probes

    def __init__(self) -> None:
        self._cached: Reading | None = None
        self._at = -float("inf")

    def read(self, now: float, urgent: bool = True) -> Reading:
        mono = time.monotonic()
        wait = self.interval if urgent else max(self.interval, self.slow_interval)
        if self._cached is None or mono - self._at >= wait:
            self._cached = self.sample(now)
            self._at = mono
        return self._cached

    def sample(self, now: float) -> Reading:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the probe holds open."""


# --------------------------------------------------------------------------- activity path


class PathProbe(Probe):
    """A file whose recent mtime means "owner active" (custom sensors: `touch` it)."""

    name = "path"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def sample(self, now: float) -> Reading:
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return Reading(self.name, True, None, f"{self.path} does not exist (no activity reported)")
        except OSError as err:
            return Reading(self.name, False, None, f"cannot stat {self.path}: {err.strerror}")
        return Reading(self.name, True, min(mtime, now), f"{self.path} touched {_ago(now, mtime)}")


# --------------------------------------------------------------------------- tty access times


class TtyProbe(Probe):
    """The newest access time of the terminals: typing on a tty or pty updates it (8 s granularity)."""

    name = "tty"
    interval = 1.0

    def __init__(self, patterns: Sequence[str] = ("/dev/pts/*", "/dev/tty[0-9]*")) -> None:
        super().__init__()
        self.patterns = patterns

    def sample(self, now: float) -> Reading:
        return tty_reading(self._ttys(), now)

    def _ttys(self) -> list[str]:
        return [p for pattern in self.patterns for p in glob.glob(pattern) if TTY_RE.match(p)]


def tty_reading(paths: Iterable[str], now: float) -> Reading:
    newest, count = None, 0
    for path in paths:
        try:
            atime = os.stat(path).st_atime
        except OSError:
            continue
        count += 1
        newest = atime if newest is None else max(newest, atime)
    if newest is None:
        return Reading("tty", False, None, "no terminals to watch")
    return Reading("tty", True, min(newest, now), f"{count} terminal(s), newest input {_ago(now, newest)}")


# --------------------------------------------------------------------------- input devices


def last_input_event(data: bytes) -> float | None:
    """The time of the newest key/pointer event in raw `struct input_event` bytes (None: none)."""
    newest = None
    usable = len(data) - len(data) % INPUT_EVENT.size
    for sec, usec, etype, _code, _value in INPUT_EVENT.iter_unpack(data[:usable]):
        if etype in OWNER_EVENT_TYPES:
            stamp = sec + usec / 1e6
            newest = stamp if newest is None else max(newest, stamp)
    return newest


class InputProbe(Probe):
    """Reads pending events from every readable /dev/input/event* without disturbing other readers.

    evdev gives every opener its own copy of the events, so reading here steals nothing from
    the desktop.  Devices are looked for again every `rescan` seconds (hot-plugged mice)."""

    name = "input"
    rescan = 30.0

    def __init__(self, pattern: str = "/dev/input/event*") -> None:
        super().__init__()
        self.pattern = pattern
        self.fds: dict[str, int] = {}
        self.unreadable: list[str] = []
        self.newest: float | None = None
        self._scanned = -float("inf")

    def _scan(self) -> None:
        self._scanned = time.monotonic()
        self.unreadable = []
        for path in sorted(glob.glob(self.pattern)):
            if path in self.fds:
                continue
            try:
                self.fds[path] = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                self.unreadable.append(path)

    def sample(self, now: float) -> Reading:
        if time.monotonic() - self._scanned >= self.rescan:
            self._scan()
        for path, fd in list(self.fds.items()):
            self._drain(path, fd, now)
        if not self.fds:
            why = f"{len(self.unreadable)} device(s), none readable" if self.unreadable else "no input devices"
            return Reading(self.name, False, None, why)
        detail = f"{len(self.fds)} readable device(s)" + (
            f", {len(self.unreadable)} unreadable" if self.unreadable else ""
        )
        return Reading(self.name, True, self.newest, detail + f", last event {_ago(now, self.newest)}")

    def _drain(self, path: str, fd: int, now: float) -> None:
        while True:
            try:
                data = os.read(fd, INPUT_EVENT.size * 256)
            except BlockingIOError:
                return
            except OSError as err:
                if err.errno != errno.EAGAIN:  # unplugged (ENODEV): forget it
                    os.close(fd)
                    del self.fds[path]
                return
            if not data:
                return
            stamp = last_input_event(data)
            if stamp is not None:
                stamp = min(stamp, now)
                self.newest = stamp if self.newest is None else max(self.newest, stamp)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


# --------------------------------------------------------------------------- systemd-logind


@dataclass
class Session:
    id: str
    props: dict[str, str]

    def flag(self, key: str) -> bool:
        return self.props.get(key) == "yes"

    def usec(self, key: str) -> int:
        try:
            return int(self.props.get(key, "0"))
        except ValueError:
            return 0


def parse_show_session(text: str) -> list[Session]:
    """`loginctl show-session ID...` prints `Key=Value` lines, one block per session, blank-line separated."""
    sessions: list[Session] = []
    props: dict[str, str] = {}
    for line in [*text.splitlines(), ""]:
        key, sep, value = line.partition("=")
        if sep and key:
            props[key.strip()] = value.strip()
        elif not line.strip() and props:
            sessions.append(Session(props.get("Id", ""), props))
            props = {}
    return sessions


def parse_session_ids(text: str) -> list[str]:
    """Session ids from `loginctl list-sessions --no-legend` (the id is the first column in every version)."""
    ids = []
    for line in text.splitlines():
        words = line.split()  # SESSION UID USER ...: a header or "N sessions listed." has no numeric UID
        if len(words) >= 3 and re.fullmatch(r"[A-Za-z0-9]+", words[0]) and words[1].isdigit():
            ids.append(words[0])
    return ids


def session_last_activity(session: Session, now: float, mono_now: float) -> tuple[float | None, str]:
    """When this session's owner was last active, and why we think so.

    - only sessions of class `user` that are not closing count (not greeters or lock screens);
    - a locked session means its owner is away: no activity;
    - IdleHint=yes: active until IdleSinceHint;
    - IdleHint=no with a timestamp: active now;
    - IdleHint=no and never a timestamp: this desktop does not report idleness (wlroots
      compositors, some X11 desktops): cannot tell, the other signals decide."""
    sid = session.id or "?"
    if session.props.get("Class", "user") != "user" or session.props.get("State") == "closing":
        return None, f"session {sid}: {session.props.get('Class')} {session.props.get('State')}, not counted"
    if session.flag("LockedHint"):
        return None, f"session {sid}: locked (owner away)"
    mono = session.usec("IdleSinceHintMonotonic")
    real = session.usec("IdleSinceHint")
    since = now - (mono_now - mono / 1e6) if mono else (real / 1e6 if real else None)
    if session.props.get("IdleHint") == "yes":
        if since is None:
            return None, f"session {sid}: idle (since unknown)"
        return min(since, now), f"session {sid}: idle since {_ago(now, since)}"
    if since is None:
        return None, f"session {sid}: never reported idleness (its desktop may not support IdleHint)"
    return now, f"session {sid}: active"


def logind_reading(sessions: list[Session], now: float, mono_now: float) -> Reading:
    if not sessions:
        return Reading("logind", True, None, "no sessions (headless: counts as idle)")
    newest, notes = None, []
    for session in sessions:
        last, note = session_last_activity(session, now, mono_now)
        notes.append(note)
        if last is not None:
            newest = last if newest is None else max(newest, last)
    return Reading("logind", True, newest, "; ".join(notes))


class LogindProbe(Probe):
    """Sessions as systemd-logind sees them, through `loginctl` (no D-Bus library needed)."""

    name = "logind"
    interval = 1.0
    slow_interval = 5.0  # two loginctl runs cost ~10 ms of CPU
    retry = 60.0

    def __init__(self, loginctl: str = "loginctl") -> None:
        super().__init__()
        self.loginctl = loginctl
        self._broken_until = -float("inf")
        self._broken = ""

    def sample(self, now: float) -> Reading:
        if time.monotonic() < self._broken_until:
            return Reading(self.name, False, None, self._broken)
        try:
            ids = parse_session_ids(self._run("list-sessions", "--no-legend"))
            sessions = []
            if ids:
                props = [f"--property={p}" for p in LOGIND_PROPERTIES]
                sessions = parse_show_session(self._run("show-session", *props, *ids))
        except (OSError, subprocess.SubprocessError, RuntimeError) as err:
            self._broken = f"loginctl does not work here: {err}"
            self._broken_until = time.monotonic() + self.retry
            return Reading(self.name, False, None, self._broken)
        return logind_reading(sessions, now, time.monotonic())

    def _run(self, *args: str) -> str:
        proc = subprocess.run(
            [self.loginctl, "--no-pager", *args], capture_output=True, text=True, timeout=5, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError((proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1])
        return proc.stdout


# --------------------------------------------------------------------------- CPU use by others


def parse_proc_stat_cpu(text: str) -> tuple[int, int]:
    """(jiffies busy outside `nice`, all jiffies) from the aggregate `cpu` line of /proc/stat."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            v = [int(x) for x in line.split()[1:]]
            v += [0] * (8 - len(v))
            user, _nice, system, idle, iowait, irq, softirq, steal = v[:8]
            return user + system + irq + softirq, user + v[1] + system + idle + iowait + irq + softirq + steal
    raise ValueError("no aggregate cpu line")


def _stat_fields(path: str) -> list[bytes]:
    with open(path, "rb") as fh:
        raw = fh.read()
    return raw[raw.rfind(b")") + 2 :].split()


def own_cpu_jiffies(stat_path: str = "/proc/self/stat") -> int:
    """utime + stime of this process (all threads)."""
    fields = _stat_fields(stat_path)
    return int(fields[11]) + int(fields[12])


def farm_jiffies_outside_nice(pid: int) -> int | None:
    """CPU time of one farm process that /proc/stat books outside the `nice` column.

    A niced chunk's user time is in `nice`, but its system time (page faults, I/O) is in
    `system`; the launcher runs at nice 0, so all of its time is outside `nice`."""
    try:
        f = _stat_fields(f"/proc/{pid}/stat")
    except OSError:
        return None
    utime, stime, _cutime, cstime, nice = int(f[11]), int(f[12]), int(f[13]), int(f[14]), int(f[16])
    return utime + stime if nice <= 0 else stime + cstime


class CpuProbe(Probe):
    """Owner active when processes outside the farm used `busy` cores or more over the last ~`window` s.

    Chunks run at nice 19, so the kernel counts their user time in the `nice` column; every
    other busy jiffy (user, system, irq) belongs to someone else — minus the daemon's own, its
    launchers' and the chunks' system time (`farm_pids`), so a chunk never suspends itself."""

    name = "cpu"

    def __init__(self, busy: float = 0.5, window: float = 1.0, ncpu: int | None = None) -> None:
        super().__init__()
        self.busy = busy
        self.window = window
        self.ncpu = ncpu or os.cpu_count() or 1
        self.samples: deque[tuple[float, int, int]] = deque()
        self.last_busy: float | None = None
        self.cores = 0.0
        self.farm_pids: list[int] = []  # the chunks' launchers and programs, kept up to date by the policy
        self._farm_seen: dict[int, int] = {}
        self._farm_total = 0

    def _farm(self) -> int:
        """The farm's CPU time outside `nice` so far (only what accrued while we watched each process)."""
        seen: dict[int, int] = {}
        for pid in self.farm_pids:
            value = farm_jiffies_outside_nice(pid)
            if value is not None:
                self._farm_total += max(0, value - self._farm_seen.get(pid, value))
                seen[pid] = value
        self._farm_seen = seen
        return self._farm_total

    def sample(self, now: float) -> Reading:
        try:
            with open("/proc/stat", encoding="ascii") as fh:
                busy, total = parse_proc_stat_cpu(fh.read())
            busy -= own_cpu_jiffies() + self._farm()
        except (OSError, ValueError, IndexError) as err:
            return Reading(self.name, False, None, f"cannot read /proc/stat: {err}")
        mono = time.monotonic()
        self.samples.append((mono, busy, total))
        while len(self.samples) > 2 and mono - self.samples[1][0] >= self.window:
            self.samples.popleft()
        _, b0, n0 = self.samples[0]
        if total > n0:
            self.cores = max(0.0, (busy - b0) / (total - n0) * self.ncpu)
            if self.cores >= self.busy:
                self.last_busy = now
        detail = f"{self.cores:.2f} core(s) used outside the farm (busy at {self.busy:g})"
        return Reading(self.name, True, self.last_busy, detail)


# --------------------------------------------------------------------------- memory and swap


def parse_vmstat_pswpout(text: str) -> int:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "pswpout":
            return int(value)
    return 0


@dataclass
class MemoryState:
    free: int  # MemAvailable, bytes
    swap_total: int
    swapping: bool  # pages were swapped out since the last sample


@dataclass
class MemoryWatch:
    """Free memory and whether the host is pushing pages to swap right now."""

    interval: float = 0.5
    _last: MemoryState | None = None
    _pswpout: int | None = None
    _at: float = field(default=-float("inf"))

    def read(self) -> MemoryState:
        mono = time.monotonic()
        if self._last is not None and mono - self._at < self.interval:
            return self._last
        mem = meminfo()
        try:
            with open("/proc/vmstat", encoding="ascii") as fh:
                out = parse_vmstat_pswpout(fh.read())
        except (OSError, ValueError):
            out = 0
        swapping = self._pswpout is not None and out > self._pswpout
        self._pswpout, self._at = out, mono
        self._last = MemoryState(mem["mem_free"], mem["swap_total"], swapping)
        return self._last


# --------------------------------------------------------------------------- all signals together


@dataclass
class Activity:
    last: float | None  # wall time of the newest owner activity; None: none seen
    by: str  # the signal that saw it

    def idle_for(self, now: float) -> float:
        return float("inf") if self.last is None else max(0.0, now - self.last)


class OwnerActivity:
    """The chosen signals, read together."""

    def __init__(self, probes: list[Probe]) -> None:
        self.probes = probes
        self.readings: list[Reading] = []

    def sample(self, now: float, urgent: bool = True) -> Activity:
        self.readings = [p.read(now, urgent) for p in self.probes]
        newest = Activity(None, "")
        for r in self.readings:
            if r.last is not None and (newest.last is None or r.last > newest.last):
                newest = Activity(r.last, r.signal)
        return newest

    def set_farm(self, pids: list[int]) -> None:
        """The farm's own processes, whose CPU use is not the owner's."""
        for p in self.probes:
            if isinstance(p, CpuProbe):
                p.farm_pids = pids

    def close(self) -> None:
        for p in self.probes:
            p.close()


def make_probes(signals: Sequence[str], activity_path: Path | None, cpu_busy: float = 0.5) -> list[Probe]:
    makers: dict[str, Callable[[], Probe]] = {
        "logind": LogindProbe,
        "input": InputProbe,
        "tty": TtyProbe,
        "cpu": lambda: CpuProbe(cpu_busy),
    }
    probes: list[Probe] = [makers[s]() for s in signals]
    if activity_path is not None:
        probes.append(PathProbe(activity_path))
    return probes


def parse_signals(text: str) -> list[str]:
    """`logind,input,tty,cpu` (any subset), or `none`."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if words == ["none"]:
        return []
    unknown = [w for w in words if w not in SIGNALS]
    if unknown:
        raise ValueError(f"unknown signal(s) {', '.join(unknown)}; choose from {', '.join(SIGNALS)} or none")
    return list(dict.fromkeys(words))


def _ago(now: float, then: float | None) -> str:
    if then is None:
        return "never"
    return f"{max(0.0, now - then):.0f} s ago"
