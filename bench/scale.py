"""Scale benchmark: claim latency with a small and a huge queue, and a daemon's idle CPU.

    .venv/bin/python bench/scale.py            # the full run (about 3 minutes on 2 cores)
    .venv/bin/python bench/scale.py --quick    # a short run (about 1 minute: 10 000 chunks, a 15 s window)

Claim latency: one daemon (--slots 1) works through a queue of N chunks running
`date +%s.%N`; a sample is the time from the previous chunk's done record to the next
chunk's own start stamp (the daemon is free -> it has listed, read, locked, renamed and
started the next chunk).  The first `--runs` chunks are timed, with N = 100 and N = 100 000.
Idle CPU: CPU time (from /proc: utime+stime) of a daemon and of its spawner, plus the
children the daemon waited for (cutime+cstime, e.g. the idle policy's `loginctl`), over a
window that starts 20 s after start-up, with an empty spool (`--when always`, and the default
`--when idle`), and with 100 000 queued command chunks that the daemon may not run (no
--allow-commands); the three daemons are measured side by side in the same window.
Arrival: the CPU a daemon spends (in the 30 s after the submission) when a 100 000-chunk job
that it may not run arrives in the queue while it runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import (
    STAMP_ARGV,
    RenderdProc,
    daemons,
    done_count,
    done_records,
    figure,
    ms,
    percentile,
    queue_job,
    stamp_of,
    temp_spool,
    wait_for,
)


def claim_gaps(spool: Path, job: str, runs: int) -> tuple[list[float], float]:
    """Run the first `runs` chunks of `job` on one daemon; gaps between chunks, and the first claim's delay."""
    with daemons(spool, 1, ["--allow-commands", "--slots", "1"]) as procs:
        registered = procs[0].wait_registered(120)
        wait_for(lambda: done_count(spool, job) >= runs, 60 + runs, 0.1, f"{runs} chunks to run")
    records = sorted(done_records(spool, job), key=lambda r: r["started"])[:runs]
    stamps = [stamp_of(spool, r) for r in records]
    gaps = [stamps[i] - records[i - 1]["finished"] for i in range(1, len(records))]
    return gaps, stamps[0] - float(registered["started"])


def claim_latency(spool: Path, job: str, chunks: int, runs: int, written: float) -> None:
    gaps, first = claim_gaps(spool, job, runs)
    label = f"{chunks} queued"
    figure(f"claim latency p50, {label}", ms(percentile(gaps, 50)), f"{len(gaps)} samples")
    figure(f"claim latency p95, {label}", ms(percentile(gaps, 95)), f"max {ms(max(gaps))}")
    figure(f"first claim after start, {label}", ms(first), f"queue written in {written:.1f} s")


def idle_cpu(empty: Path, full: Path, queued: int, window: float, settle: float) -> None:
    """Daemons side by side over one window: empty spool, and `queued` chunks they may not run."""
    setups = {
        "empty spool, --allow-commands": (empty, ["--allow-commands"]),
        "empty spool, --when idle (the default)": (empty, ["--when", "idle"]),
        f"{queued} queued it may not run": (full, []),
    }
    procs: dict[str, RenderdProc] = {}
    try:
        for i, (label, (spool, args)) in enumerate(setups.items(), start=1):
            procs[label] = RenderdProc(spool, f"idle{i}", args, spool.parent)
        for proc in procs.values():
            proc.wait_registered(120)
        full_proc = procs[f"{queued} queued it may not run"]
        wait_for(
            lambda: (full_proc.host_record() or {}).get("queued_seen", 0) >= queued,
            120,
            0.2,
            "the daemon to list the queue",
        )
        time.sleep(settle)  # start-up is not idling: the spawner's imports, the first policy samples
        before = {label: (p.cpu_seconds(), time.monotonic()) for label, p in procs.items()}
        time.sleep(window)  # the measurement window itself, not a synchronisation
        for label, proc in procs.items():
            cpu0, t0 = before[label]
            assert proc.proc.poll() is None, f"renderd for {label!r} died: see {proc.log}"
            share = (proc.cpu_seconds() - cpu0) / (time.monotonic() - t0)
            figure(f"idle CPU over {window:g} s, {label}", f"{share * 100:.3f} %", "daemon + spawner")
        assert not os.listdir(full / "claimed"), "a daemon claimed a chunk it may not run"
    finally:
        for proc in procs.values():
            proc.stop()


def arrival_cpu(chunks: int, window: float) -> None:
    """A job of `chunks` command chunks arrives at a running daemon that may not run them."""
    with temp_spool() as spool:
        proc = RenderdProc(spool, "arrive1", [], spool.parent)
        try:
            proc.wait_registered(120)
            time.sleep(5)  # past start-up
            before = proc.cpu_seconds()
            started = time.monotonic()
            queue_job(spool, STAMP_ARGV, chunks)
            wait_for(lambda: (proc.host_record() or {}).get("queued_seen", 0) >= chunks, 120, 0.2, "the new job")
            seen = time.monotonic() - started
            time.sleep(max(0.0, window - seen))
            used = proc.cpu_seconds() - before
        finally:
            proc.stop()
    figure(f"daemon CPU when a {chunks}-chunk job arrives", f"{used:.2f} s", f"over {max(window, seen):.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 000 instead of 100 000 chunks, 15 s windows")
    parser.add_argument("--big", type=int, help="the large queue (default 100 000; quick 10 000)")
    parser.add_argument("--runs", type=int, default=100, help="chunks timed per claim-latency run")
    parser.add_argument("--window", type=float, help="idle CPU window in seconds (default 60; quick 15)")
    parser.add_argument("--settle", type=float, help="seconds between start-up and the window (default 20; quick 5)")
    opts = parser.parse_args()
    big = opts.big or (10_000 if opts.quick else 100_000)
    window = opts.window or (15.0 if opts.quick else 60.0)
    settle = opts.settle if opts.settle is not None else (5.0 if opts.quick else 20.0)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# scale: {os.cpu_count()} CPUs, load average {load}, spool on {tempfile.gettempdir()}")
    with temp_spool() as small:
        started = time.monotonic()
        job = queue_job(small, STAMP_ARGV, 100)
        claim_latency(small, job, 100, min(opts.runs, 100), time.monotonic() - started)
    with temp_spool() as empty, temp_spool() as full:
        started = time.monotonic()
        job = queue_job(full, STAMP_ARGV, big)
        written = time.monotonic() - started
        figure(f"write {big} chunks in-process", f"{written:.1f} s", f"{big / written:.0f} chunks/s")
        idle_cpu(empty, full, big, window, settle)
        claim_latency(full, job, big, opts.runs, written)
    arrival_cpu(big, 30.0 if not opts.quick else 15.0)


if __name__ == "__main__":
    main()
