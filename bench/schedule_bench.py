"""What one scheduling decision costs a daemon: schedule.pick() over N queued jobs (renderd/schedule.py),
the pure part the daemon runs once per chunk it claims (the spool is read at most once per poll,
renderd/daemon/picture.py).  Jobs get mixed rules: a third with tags, some capped, some waiting.

    .venv/bin/python bench/schedule_bench.py [--jobs 30 300 3000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from renderd.schedule import DepState, HostView, JobRules, JobView, Share, pick


def jobs(n: int, rng: random.Random) -> list[JobView]:
    out = []
    for i in range(n):
        rules = JobRules(tags=frozenset({"gpu"}) if i % 3 == 0 else frozenset(),
                         max_share=Share(2) if i % 5 == 0 else None, after=(f"j{i - 1}",) if i % 7 == 0 else ())
        out.append(JobView(f"j{i}", rng.choice([30, 50, 70]), 1000 * i, running=rng.randint(0, 4), rules=rules,
                           deps=DepState.WAITING if i % 7 == 0 else DepState.READY))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, nargs="+", default=[30, 300, 3000])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(1)
    host = HostView("ws01", frozenset({"gpu"}), 2)
    for n in args.jobs:
        views = jobs(n, rng)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            pick(views, host, 64)
            times.append(time.perf_counter() - t0)
        print(f"{n:6d} queued jobs: pick() median {statistics.median(times) * 1e3:.3f} ms, "
              f"p95 {sorted(times)[int(0.95 * len(times))] * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
