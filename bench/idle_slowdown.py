"""Does the owner notice the farm?  Foreground slowdown and time from activity to suspension.

1. slowdown: a CPU-bound foreground program (fixed work, nice 0) is timed
   - alone,
   - while a real renderd runs a CPU-bound chunk on every core (its launcher sets nice 19,
     SCHED_IDLE and the idle I/O class; `--when always`, so nothing is suspended),
   - while the same busy loops run at plain nice 0 (what a farm without those settings does).
   - while the same busy loops run with the launcher's settings but no renderd (a control: it
     separates renderd from what the kernel and the machine make of SCHED_IDLE).
   The conditions are interleaved in a random order each round, in one renderd session ("alone"
   = the bench SIGSTOPs the chunks itself), so drift in the machine's other load spreads evenly; every
   figure is a median with its spread, and the best-of-N comparison beside it.
2. suspension latency: renderd `--when idle --activity-path P --idle-after 0` runs a CPU-bound
   chunk on every core while nice-0 busy loops keep every core busy too (the owner working);
   each round touches P and times until every process of every chunk is in state T, then
   waits for the resumption.  p50 / p95 over the rounds.

usage: python bench/idle_slowdown.py [--rounds N] [--latency-rounds N] [--work N]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import RenderdProc, figure, ms, percentile, queue_job, temp_spool, wait_for

from renderd.launcher import lower_priority

NCPU = os.cpu_count() or 1
BURN = [sys.executable, "-c", "while True: pass"]


def foreground(work: int) -> float:
    """Wall seconds of a fixed amount of single-threaded CPU work in a fresh nice-0 process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"x = 0\nfor i in range({work}): x += i * i"], check=True)
    return time.perf_counter() - start


@contextmanager
def plain_burners(lowered: bool = False) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Busy loops on every core at nice 0 (or, `lowered`, with the launcher's settings but no renderd)."""
    procs = [subprocess.Popen(BURN, preexec_fn=lower_priority if lowered else None) for _ in range(NCPU)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait()


def chunk_groups(daemon: RenderdProc) -> list[int]:
    rec = daemon.host_record() or {}
    return [int(c["pid"]) for c in rec.get("chunks", []) if isinstance(c, dict) and isinstance(c.get("pid"), int)]


def group_states(pgids: list[int]) -> set[str]:
    states: set[str] = set()
    wanted = set(pgids)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        if int(fields[2]) in wanted and fields[0] != b"Z":
            states.add(fields[0].decode())
    return states


@contextmanager
def renderd_burning(extra: list[str]) -> Iterator[tuple[RenderdProc, list[int]]]:
    """A real renderd running one CPU-bound chunk per core; yields it and the chunks' process groups."""
    with temp_spool("renderd-idle-bench-") as spool:
        daemon = RenderdProc(
            spool, "bench", ["--allow-commands", "--slots", str(NCPU), "--poll", "0.5", *extra], spool.parent
        )
        try:
            daemon.wait_registered()
            queue_job(spool, BURN, NCPU, name="burn")
            groups = wait_for(
                lambda: len(chunk_groups(daemon)) == NCPU and chunk_groups(daemon),
                120,
                0.05,
                "every core to run a chunk",
            )
            wait_for(lambda: "R" in group_states(groups), 30, 0.01, "the chunks to burn")
            yield daemon, groups
        finally:
            daemon.stop()


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s, min {min(values):.3f}, max {max(values):.3f}"


def signal_groups(groups: list[int], sig: int) -> None:
    for pgid in groups:
        os.killpg(pgid, sig)


def slowdown(rounds: int, work: int) -> None:
    """Interleaved rounds in one renderd session: chunks stopped (alone), chunks running, nice-0 loops."""
    alone: list[float] = []
    with_renderd: list[float] = []
    with_plain: list[float] = []
    with_lowered: list[float] = []
    with renderd_burning(["--when", "always"]) as (daemon, groups):
        cpu0, t0 = daemon.cpu_seconds(), time.monotonic()
        signal_groups(groups, signal.SIGSTOP)  # the bench stops the chunks itself: the host is "alone"
        conditions = ["alone", "plain", "lowered", "renderd"]
        for _ in range(rounds):
            random.shuffle(conditions)  # the other load on the machine drifts: no condition always goes last
            for condition in conditions:
                if condition == "alone":
                    alone.append(foreground(work))
                elif condition == "renderd":
                    signal_groups(groups, signal.SIGCONT)
                    time.sleep(0.2)
                    with_renderd.append(foreground(work))
                    signal_groups(groups, signal.SIGSTOP)
                else:
                    with plain_burners(condition == "lowered"):
                        time.sleep(0.2)  # let the busy loops get going
                        (with_lowered if condition == "lowered" else with_plain).append(foreground(work))
        signal_groups(groups, signal.SIGCONT)
        daemon_cpu = (daemon.cpu_seconds() - cpu0) / (time.monotonic() - t0) * 100
    base, best = statistics.median(alone), min(alone)
    figure("foreground alone", f"{base:.3f} s", summary(alone))
    for name, values in (
        ("with renderd chunks on every core", with_renderd),
        ("with nice-0 loops on every core", with_plain),
        ("with lowered loops, no renderd (control)", with_lowered),
    ):
        figure(
            f"foreground {name}",
            f"{(statistics.median(values) / base - 1) * 100:+.1f} %",
            f"{summary(values)}; best vs best {(min(values) / best - 1) * 100:+.1f} %",
        )
    figure("renderd daemon + spawner CPU while its chunks run", f"{daemon_cpu:.2f} %", "of one core, 0.25 s ticks")
    spread = (max(alone) - min(alone)) / base * 100
    figure("noise: spread of 'alone' runs (max-min)/median", f"{spread:.1f} %", f"{len(alone)} runs")


def latency(rounds: int) -> None:
    with temp_spool("renderd-idle-lat-") as scratch:
        activity = scratch.parent / "owner-active"
        args = [
            "--when",
            "idle",
            "--idle-signals",
            "none",
            "--activity-path",
            str(activity),
            "--idle-after",
            "0",
            "--resume-after",
            "1.5",  # long enough that a poll of /proc on a loaded machine cannot miss the stopped state
            "--max-suspend",
            "3600",
        ]
        with renderd_burning(args) as (_daemon, groups), plain_burners():
            samples: list[float] = []
            for _ in range(rounds):
                wait_for(lambda: "T" not in group_states(groups), 60, 0.01, "the chunks to resume")
                time.sleep(0.5)  # running for a while, as a chunk would be when the owner comes back
                activity.touch()
                touched = time.monotonic()
                wait_for(lambda: group_states(groups) == {"T"}, 60, 0.002, "every chunk process in state T")
                samples.append(time.monotonic() - touched)
            figure(
                "activity -> every chunk process stopped, p50",
                ms(percentile(samples, 50)),
                f"{rounds} rounds, {NCPU} chunks + {NCPU} nice-0 loops busy",
            )
            figure(
                "activity -> every chunk process stopped, p95", ms(percentile(samples, 95)), f"max {ms(max(samples))}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--latency-rounds", type=int, default=30)
    parser.add_argument("--work", type=int, default=3_000_000)
    args = parser.parse_args()
    print(f"# {NCPU} cores; load before: {os.getloadavg()[0]:.2f}", flush=True)
    slowdown(args.rounds, args.work)
    latency(args.latency_rounds)


if __name__ == "__main__":
    main()
