"""`render stats` over 100 000 recorded chunks (issue 14's target: under a second).

    .venv/bin/python bench/stats_bench.py [--chunks 100000] [--hosts 20] [--rounds 5]

Writes the stats files of `--hosts` daemons holding `--chunks` runs in all (5 % failed attempts)
into a temp spool, then times, side by side in each round:
  floor   a bare loop: read every file, json.loads every line (no checks, no aggregation);
  render  the whole `render stats --json` process (interpreter start, imports, checks, sums);
  plain   the whole `render stats` process printing its table.
Figures are medians over the rounds (min-max after them); ratios are to the floor.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from renderd.format.stats import from_run
from renderd.spool import Spool

BIN = Path(sys.executable).parent


def write_history(root: Path, chunks: int, hosts: int) -> None:
    Spool.open(root, create=True)
    rng = random.Random(7)
    files = [(root / "stats" / f"ws{h:03d}.jsonl").open("wb") for h in range(hosts)]
    t = time.time() - 30 * 86400
    for i in range(chunks):
        ok = rng.random() > 0.05
        seconds = rng.uniform(20, 200)
        t += seconds / hosts
        frames = [rng.uniform(1, 20) for _ in range(10)] if ok else None
        job = f"shot{i // 500:04d}"
        line = from_run(time=t, host=f"ws{i % hosts:03d}", job=job, chunk=f"{job}-{i % 500:04d}", ok=ok,
                        frames=10, seconds=seconds, suspended=0.0, frame_times=frames, slots=1, run=1,
                        reason="" if ok else "exit code 1: Error: out of memory")
        files[i % hosts].write(line.to_line())
    for fh in files:
        fh.close()


def floor(root: Path) -> None:
    for path in sorted((root / "stats").iterdir()):
        for text in path.read_bytes().splitlines():
            json.loads(text)


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "spool"
        root.mkdir()
        write_history(root, args.chunks, args.hosts)
        render = [str(BIN / "render"), "--spool", str(root), "stats"]
        runs: dict[str, list[float]] = {"floor": [], "render": [], "plain": []}
        for _ in range(args.rounds):
            runs["floor"].append(timed(lambda: floor(root)))
            runs["render"].append(timed(lambda: subprocess.run([*render, "--json"], check=True, capture_output=True)))
            runs["plain"].append(timed(lambda: subprocess.run(render, check=True, capture_output=True)))
        out = json.loads(subprocess.run([*render, "--json"], check=True, capture_output=True).stdout)
        done = out["total"]["chunks_done"] + out["total"]["chunks_failed"]
        print(f"# stats: {args.chunks} recorded chunks on {args.hosts} hosts, {args.rounds} rounds; "
              f"render stats counted {done}")
        base = statistics.median(runs["floor"])
        for name, times in runs.items():
            med = statistics.median(times)
            print(f"{name:<8} {med:7.3f} s   ({min(times):.3f}-{max(times):.3f})   {med / base:5.2f}x floor")
        print(f"target: render stats --json under 1 s: {'met' if statistics.median(runs['render']) < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
