"""Dispatch benchmark: no-op chunks per second, claim latency, and nq / task-spooler side by side.

    .venv/bin/python bench/dispatch.py            # the full run (about 2 minutes on 2 cores)
    .venv/bin/python bench/dispatch.py --quick    # a short run (about 30 s)

Throughput: N one-frame chunks running `true` are queued (in-process) before the daemons
start; the clock runs from launching the daemons until the last chunk's done record.
Latency: one daemon, idle; a one-chunk job running `date +%s.%N` is queued, and the time
from the queue rename to the program's own start stamp is one sample.
nq and task-spooler run the same N `true` jobs, submitted one CLI call each, on one host.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time
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
# renderd runs every chunk at SCHED_IDLE + nice 19; on a busy machine that alone slows a no-op chunk down,
# so nq and task-spooler also run once with their jobs in the same class (one extra exec per job).
IDLE_TRUE = ["chrt", "--idle", "0", "nice", "-n", "19", TRUE]


def renderd_rate(jobs: int, count: int, slots: int) -> tuple[float, float]:
    """Chunks/s from launching `count` daemons until all done, and from first start to last done."""
    with temp_spool() as spool:
        job = queue_job(spool, [TRUE], jobs)
        launched = time.time()
        with daemons(spool, count, ["--allow-commands", "--slots", str(slots)]):
            records = wait_job_done(spool, job, jobs, timeout=120 + jobs / 5)
    assert len(records) == jobs and all(r["job"] == job for r in records)
    last = max(r["finished"] for r in records)
    first = min(r["started"] for r in records)
    return jobs / (last - launched), jobs / (last - first)


def claim_latencies(samples: int, watch: bool, poll: float) -> list[float]:
    """Queue-rename to program start, for one-chunk jobs arriving at an idle daemon."""
    args = ["--allow-commands", "--poll", str(poll)] + ([] if watch else ["--no-watch"])
    out: list[float] = []
    with temp_spool() as spool, daemons(spool, 1, args) as procs:
        procs[0].wait_registered()
        for _ in range(samples):
            # A random phase against the daemon's poll timer, so polling is not measured at one phase only.
            time.sleep(random.uniform(0.0, poll if not watch else 0.05))
            job = queue_job(spool, STAMP_ARGV, 1, name="probe")
            written = time.time()
            record = wait_job_done(spool, job, 1, timeout=30 + 3 * poll)[0]
            out.append(stamp_of(spool, record) - written)
    return out


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer jobs and samples (about 30 s)")
    parser.add_argument("--jobs", type=int, help="no-op chunks/jobs per throughput run (default 500; quick 200)")
    parser.add_argument("--slots", type=int, default=4, help="--slots of each daemon in the throughput runs")
    parser.add_argument("--samples", type=int, help="latency samples per mode (default 60; quick 15)")
    parser.add_argument("--poll", type=float, default=1.0, help="--poll of the polling-only latency run")
    opts = parser.parse_args()
    jobs = opts.jobs or (200 if opts.quick else 500)
    samples = opts.samples or (15 if opts.quick else 60)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# dispatch: {jobs} no-op jobs, renderd --slots {opts.slots}, {os.cpu_count()} CPUs, load average {load}")

    rates: dict[str, float] = {}
    for count in (1, 4):
        total, steady = renderd_rate(jobs, count, opts.slots)
        rates[f"renderd x{count}"] = total
        figure(
            f"renderd, {count} daemon(s) x {opts.slots} slots: chunks/s",
            f"{total:.0f}/s",
            f"from launch to last done; {steady:.0f}/s from first start",
        )
    for label, argv in (("", [TRUE]), (", jobs at SCHED_IDLE", IDLE_TRUE)):
        rates[f"nq{label}"] = nq_rate(jobs, argv)
        figure(f"nq{label}: jobs/s (submit + run)", f"{rates[f'nq{label}']:.0f}/s")
        rates[f"task-spooler{label}"] = tsp_rate(jobs, argv)
        figure(f"task-spooler{label}: jobs/s (submit + run)", f"{rates[f'task-spooler{label}']:.0f}/s")
    for count in (1, 4):
        mine = rates[f"renderd x{count}"]
        for other in ("nq", "task-spooler", "nq, jobs at SCHED_IDLE", "task-spooler, jobs at SCHED_IDLE"):
            figure(f"ratio renderd x{count} / {other}", f"{mine / rates[other]:.2f}")

    for watch in (True, False):
        lat = claim_latencies(samples, watch, opts.poll if not watch else 5.0)
        mode = "inotify (--poll 5)" if watch else f"polling only (--no-watch --poll {opts.poll:g})"
        figure(f"claim latency p50, {mode}", ms(percentile(lat, 50)), f"{len(lat)} samples")
        figure(f"claim latency p95, {mode}", ms(percentile(lat, 95)))


if __name__ == "__main__":
    main()
