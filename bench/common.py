"""Shared pieces of the benchmarks: a temp spool, real `renderd` processes, jobs written in-process.

Nothing here is mocked: daemons are the installed `renderd` console script, run as real
processes on a real spool folder in a temp directory; chunks are written through
`render_frontend.submit` (the same code `render add` runs), so 100 000 chunks take seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from render_frontend.submit import ChunkSpec, JobSpec, new_job_id, submit
from renderd.spool import Spool

BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Every benchmark daemon starts chunks at once: the default `--when idle` waits for an idle owner.
ALWAYS = ["--when", "always"]
# A program that prints the wall-clock time at which it started: its output lands in the chunk's log.
STAMP_ARGV = ["date", "+%s.%N"]


def wait_for(cond: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll `cond` until it returns something truthy; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


@contextmanager
def temp_spool(prefix: str = "renderd-bench-") -> Iterator[Path]:
    """A fresh spool folder on the temp file system (a real disk here: fsync costs what it costs)."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    spool = base / "spool"
    spool.mkdir()
    Spool.open(spool, create=True)
    try:
        yield spool
    finally:
        shutil.rmtree(base, ignore_errors=True)


def queue_job(spool: Path, argv: Sequence[str], chunks: int, priority: int = 50, name: str = "bench") -> str:
    """Queue a command job of `chunks` one-frame chunks, in-process; returns the job id."""
    spec = JobSpec(
        job=new_job_id(name),
        name=name,
        kind="command",
        chunks=[ChunkSpec(f, f, 1, list(argv)) for f in range(1, chunks + 1)],
        priority=priority,
    )
    submit(Spool.open(spool), spec)
    return spec.job


def done_count(spool: Path, job: str) -> int:
    try:
        return len(os.listdir(spool / "jobs" / job / "done"))
    except FileNotFoundError:
        return 0


def done_records(spool: Path, job: str) -> list[dict[str, Any]]:
    done = spool / "jobs" / job / "done"
    return [json.loads((done / name).read_text()) for name in sorted(os.listdir(done))]


def wait_job_done(spool: Path, job: str, chunks: int, timeout: float) -> list[dict[str, Any]]:
    wait_for(lambda: done_count(spool, job) >= chunks, timeout, 0.1, f"{chunks} chunks of {job} to finish")
    return done_records(spool, job)


def stamp_of(spool: Path, record: dict[str, Any]) -> float:
    """The start time printed by a STAMP_ARGV chunk into its log."""
    for line in (spool / record["log"]).read_text().splitlines():
        if line and line[0].isdigit():
            return float(line)
    raise ValueError(f"no start stamp in {record['log']}")


class RenderdProc:
    """One real `renderd` process (plus the spawner it starts)."""

    def __init__(self, spool: Path, name: str, args: Sequence[str], log_dir: Path) -> None:
        self.spool, self.name = spool, name
        self.log = log_dir / f"renderd-{name}.log"
        when = [] if "--when" in args else ["--when", "always"]  # renderd's default waits for an idle owner
        cmd = [str(BIN / "renderd"), "--spool", str(spool), "--name", name, *when, *args]
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def host_record(self) -> dict[str, Any] | None:
        try:
            rec = json.loads((self.spool / "hosts" / f"{self.name}.json").read_text())
        except (OSError, ValueError):
            return None
        if rec.get("pid") != self.proc.pid or rec.get("state") == "offline":
            return None
        return rec if isinstance(rec, dict) else None

    def wait_registered(self, timeout: float = 60.0) -> dict[str, Any]:
        rec: dict[str, Any] = wait_for(self.host_record, timeout, 0.02, f"renderd {self.name} to register")
        return rec

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def children(self) -> list[int]:
        """Direct children (the spawner), from /proc."""
        out: list[int] = []
        for task in os.listdir(f"/proc/{self.pid}/task"):
            try:
                out += [int(p) for p in Path(f"/proc/{self.pid}/task/{task}/children").read_text().split()]
            except OSError:
                continue
        return out

    def cpu_seconds(self) -> float:
        """CPU time of the daemon and of its spawner (utime + stime), plus the children the daemon
        waited for (cutime + cstime: helper programs such as the idle policy's `loginctl`)."""
        return _cpu_seconds(self.pid, waited=True) + sum(_cpu_seconds(pid) for pid in self.children())


def _cpu_seconds(pid: int, waited: bool = False) -> float:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rfind(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
    if waited:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime (16 and 17)
    return ticks / CLK_TCK


@contextmanager
def daemons(spool: Path, count: int, args: Sequence[str], prefix: str = "bench") -> Iterator[list[RenderdProc]]:
    """Start `count` daemons (not waiting for them); stop them all at the end, whatever happened."""
    procs = [RenderdProc(spool, f"{prefix}{i}", args, spool.parent) for i in range(1, count + 1)]
    try:
        yield procs
    finally:
        for p in procs:
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        for p in procs:
            p.stop()


def percentile(values: Sequence[float], pct: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def figure(name: str, value: str, note: str = "") -> None:
    """One line per figure."""
    print(f"{name:<52} {value:>14}" + (f"   {note}" if note else ""), flush=True)
