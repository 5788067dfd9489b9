"""Dispatch benchmark: no-op chunks per second, claim latency, and nq / task-spooler side by side.

    .venv/bin/python bench/dispatch.py            # the full run (3 rounds, about 3 minutes on 2 cores)
    .venv/bin/python bench/dispatch.py --quick    # a short run (1 round of 200 jobs, about 40 s)
    .venv/bin/python bench/dispatch.py --latency-only --samples 40   # claim latency only

Throughput: N one-frame chunks running `true` are queued (in-process) before the daemons
start; the clock runs from launching the daemons until the last chunk's done record.
nq and task-spooler run the same N `true` jobs, submitted one CLI call each, on one host
(clock: first submission to the end of `nq -w` / `tsp -w`).  renderd runs every chunk at
SCHED_IDLE and nice 19, which on a busy machine alone slows a no-op job down, so both also
run once with their jobs in that class (`chrt --idle 0 nice -n 19 true`: one more exec per job).
Each round runs every contender once, in a random order; figures are medians over the rounds
(the spread follows), ratios are ratios of medians.
Latency: one daemon, idle; a one-chunk job running `date +%s.%N` is queued; a sample is the
time from the queue rename to the claim (the done record's `started`, set right after the claim
rename) and to the program's own start stamp.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import (
    STAMP_ARGV,
    daemons,
    figure,
    ms,
    percentile,
    queue_job,
    stamp_of,
    temp_spool,
    wait_job_done,
)

TRUE = shutil.which("true") or "/bin/true"
IDLE_TRUE = ["chrt", "--idle", "0", "nice", "-n", "19", TRUE]


def renderd_rate(jobs: int, count: int, slots: int) -> float:
    """Chunks/s from launching `count` daemons until the last chunk is recorded done."""
    with temp_spool() as spool:
        job = queue_job(spool, [TRUE], jobs)
        launched = time.time()
        with daemons(spool, count, ["--allow-commands", "--slots", str(slots)]):
            records = wait_job_done(spool, job, jobs, timeout=120 + jobs / 2)
    assert len(records) == jobs and all(r["job"] == job for r in records)
    return jobs / (max(r["finished"] for r in records) - launched)


def nq_rate(jobs: int, argv: list[str]) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-nq-") as tmp:
        env = dict(os.environ, NQDIR=tmp)
        started = time.monotonic()
        for _ in range(jobs):
            subprocess.run(["nq", "-q", *argv], env=env, check=True)
        subprocess.run(["nq", "-w"], env=env, check=True)
        elapsed = time.monotonic() - started
        assert len([n for n in os.listdir(tmp) if n.startswith(",")]) == jobs
    return jobs / elapsed


def tsp_rate(jobs: int, argv: list[str]) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-tsp-") as tmp:
        # A server of our own (socket and outputs in our temp folder), not the user's.
        env = dict(os.environ, TS_SOCKET=str(Path(tmp) / "socket"), TMPDIR=tmp, TS_MAXFINISHED=str(jobs + 10))
        try:
            started = time.monotonic()
            for _ in range(jobs):
                subprocess.run(["tsp", *argv], env=env, check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["tsp", "-w"], env=env, check=True)
            elapsed = time.monotonic() - started
            listing = subprocess.run(["tsp", "-l"], env=env, check=True, capture_output=True, text=True).stdout
            assert listing.count("finished") == jobs, listing
        finally:
            subprocess.run(["tsp", "-K"], env=env, check=False, stderr=subprocess.DEVNULL)
    return jobs / elapsed


def claim_latencies(samples: int, watch: bool, poll: float) -> tuple[list[float], list[float]]:
    """Queue rename -> claimed, and -> program started, for one-chunk jobs arriving at an idle daemon."""
    args = ["--allow-commands", "--poll", str(poll)] + ([] if watch else ["--no-watch"])
    claimed: list[float] = []
    started: list[float] = []
    with temp_spool() as spool, daemons(spool, 1, args) as procs:
        procs[0].wait_registered()
        for _ in range(samples):
            # A random phase against the daemon's poll timer, so polling is not measured at one phase only.
            time.sleep(random.uniform(0.0, poll if not watch else 0.05))
            job = queue_job(spool, STAMP_ARGV, 1, name="probe")
            written = time.time()
            record = wait_job_done(spool, job, 1, timeout=30 + 3 * poll)[0]
            claimed.append(record["started"] - written)
            started.append(stamp_of(spool, record) - written)
    return claimed, started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 round of 200 jobs, 15 latency samples")
    parser.add_argument("--jobs", type=int, help="no-op chunks/jobs per throughput run (default 500; quick 200)")
    parser.add_argument("--rounds", type=int, help="throughput rounds (default 3; quick 1)")
    parser.add_argument("--slots", type=int, default=4, help="--slots of each daemon in the throughput runs")
    parser.add_argument("--samples", type=int, help="latency samples per mode (default 60; quick 15)")
    parser.add_argument("--poll", type=float, default=1.0, help="--poll of the polling-only latency run")
    parser.add_argument("--latency-only", action="store_true", help="only the claim-latency figures (no nq/tsp needed)")
    opts = parser.parse_args()
    jobs = opts.jobs or (200 if opts.quick else 500)
    rounds = opts.rounds or (1 if opts.quick else 3)
    samples = opts.samples or (15 if opts.quick else 60)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"# dispatch: {jobs} no-op jobs x {rounds} round(s), renderd --slots {opts.slots}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )

    contenders: dict[str, Callable[[], float]] = {
        "renderd, 1 daemon": lambda: renderd_rate(jobs, 1, opts.slots),
        "renderd, 4 daemons": lambda: renderd_rate(jobs, 4, opts.slots),
        "nq": lambda: nq_rate(jobs, [TRUE]),
        "task-spooler": lambda: tsp_rate(jobs, [TRUE]),
        "nq, jobs at SCHED_IDLE": lambda: nq_rate(jobs, IDLE_TRUE),
        "task-spooler, jobs at SCHED_IDLE": lambda: tsp_rate(jobs, IDLE_TRUE),
    }
    if opts.latency_only:
        contenders = {}
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds if contenders else 0):
        for name in random.sample(list(contenders), len(contenders)):
            rates[name].append(contenders[name]())
    median = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        spread = f"{min(values):.0f}-{max(values):.0f}/s over {rounds} rounds" if rounds > 1 else ""
        figure(f"{name}: jobs/s", f"{median[name]:.0f}/s", spread)
    for mine in ("renderd, 1 daemon", "renderd, 4 daemons") if contenders else ():
        for other in list(contenders)[2:]:
            figure(f"ratio {mine} / {other}", f"{median[mine] / median[other]:.2f}")

    for watch in (True, False):
        claimed, started = claim_latencies(samples, watch, opts.poll if not watch else 5.0)
        mode = "inotify (--poll 5)" if watch else f"polling only (--no-watch --poll {opts.poll:g})"
        figure(f"claim latency p50, {mode}", ms(percentile(started, 50)), f"written -> program started, n={samples}")
        figure(f"claim latency p95, {mode}", ms(percentile(started, 95)))
        figure(f"  written -> claimed p50 / p95, {mode}", ms(percentile(claimed, 50)), ms(percentile(claimed, 95)))


if __name__ == "__main__":
    main()
