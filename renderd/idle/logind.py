"""systemd-logind's user sessions, read from `loginctl show-session` text."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass

from renderd.idle.base import Probe, Reading, _ago

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
