"""Real renderd processes on a real spool, for the tests (no mocks)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from renderd.protocol import default_socket_path

BIN = Path(sys.executable).parent


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll `cond` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Daemon:
    """One `renderd` process; its stderr goes to a log file that tests can read."""

    def __init__(
        self, spool: Path, name: str, logdir: Path, args: Sequence[str] = (), env: dict[str, str] | None = None
    ):
        self.spool, self.name = spool, name
        self.log = logdir / f"renderd-{name}.log"
        self.args = list(args)
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        # `--when idle` is renderd's default, but tests that do not ask for the idle policy must not
        # wait for a shared, busy machine to look idle.
        when = [] if "--when" in self.args else ["--when", "always"]
        # Nor on free memory, which other work on the machine uses up (seen: 0.5 GiB free for minutes).
        when += [] if "--min-free-mem" in self.args else ["--min-free-mem", "0"]
        cmd = [str(BIN / "renderd"), "--spool", str(self.spool), "--name", self.name, *when, *self.args]
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=self.env)
        wait_for(self.registered, 60, what=f"daemon {self.name} to register")  # a loaded machine starts slowly
        return self

    def registered(self) -> bool:
        try:
            rec = json.loads((self.spool / "hosts" / f"{self.name}.json").read_text())
        except (OSError, ValueError, RecursionError):  # a planted record until the daemon writes its own
            return False
        return bool(self.proc and rec.get("pid") == self.proc.pid and rec.get("state") != "offline")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the daemon gives its chunks back and exits 0."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would; the socket a killed daemon leaves behind is removed too."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def remove_socket(self) -> None:
        """What a crash leaves behind: the default socket of a killed daemon."""
        if "--socket" not in self.args:
            default_socket_path(self.spool.absolute(), self.name).unlink(missing_ok=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def render(
    spool: Path, *args: str, check: bool = True, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `render` front-end."""
    proc = subprocess.run(
        [str(BIN / "render"), "--spool", str(spool), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"render {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


def add_job(spool: Path, frames: str, argv: Sequence[str], *opts: str, cwd: Path | None = None) -> dict[str, Any]:
    out = render(spool, "add", "--frames", frames, "--json", *opts, "--", *argv, cwd=cwd)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def leftover_info_files(spool: Path) -> list[Path]:
    return [p for sub in ("queue", "claimed") for p in (spool / sub).rglob("*") if p.is_file()]


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_mentioning(text: str) -> dict[int, list[str]]:
    """Live processes (pid -> argv) with `text` in an argument, e.g. a test's markers folder."""
    out: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
        except OSError:
            continue
        if any(text in a for a in argv) and process_alive(int(entry)):
            out[int(entry)] = argv
    return out
