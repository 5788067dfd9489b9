"""`render serve` under load: GET /api/v1/jobs with 200 jobs x 50 chunks in the spool, with and
without 20 Server-Sent-Events clients following the farm's events.

The spool is real (a temp folder; jobs written in-process through render_frontend.submit, the
code `render add` runs), half of each job's chunks are done (done records written through the
spool, as a daemon writes them), and one writer appends 20 events a second to an event log
while the SSE clients follow it.  The service is the real `render serve` process; requests are
plain HTTP from this process, one at a time, so each figure is one request's latency.  It runs
twice: `--refresh 0` (every request reads the spool: the cost of one read) and the default
`--refresh 1` (a snapshot is served again for up to 1 s, render_frontend/web/recent.py).

usage: .venv/bin/python bench/api_load.py [--jobs 200] [--chunks 50] [--clients 20] [--requests 100]
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BIN, queue_job, temp_spool, wait_for

from renderd.eventlog import EventLog
from renderd.spool import Spool


def fill(spool_path: Path, jobs: int, chunks: int) -> list[str]:
    """`jobs` jobs of `chunks` one-frame chunks; the first half of each job's chunks done."""
    spool = Spool.open(spool_path)
    ids = []
    now = time.time()
    for n in range(jobs):
        job = queue_job(spool_path, ["true"], chunks, name=f"shot{n:03d}")
        ids.append(job)
        (qdir,) = [q for q in spool.queue_dirs() if q.job == job]
        for chunk in spool.queued_chunks(qdir)[: chunks // 2]:
            path = spool.queue_path(qdir, chunk)
            info = spool.read_info(path)
            spool.record_done(info, {"chunk": chunk, "job": job, "host": "bench", "run": 1, "start": info.start,
                                     "end": info.end, "step": 1, "frames": 1, "started": now - 10,
                                     "finished": now - 9, "seconds": 1.0})
            path.unlink()
    return ids


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed_gets(url: str, n: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as resp:
            body = resp.read()
        times.append(time.perf_counter() - t0)
        size = len(body)
    return times, size


class SseClient(threading.Thread):
    """Follows /api/v1/events until stopped; counts the messages."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.messages = 0
        self.resp: object | None = None
        self.connected = threading.Event()

    def run(self) -> None:
        with urllib.request.urlopen(self.url + "api/v1/events", timeout=300) as resp:
            self.resp = resp
            self.connected.set()
            for line in resp:
                if line.startswith(b"data: "):
                    self.messages += 1


def report(label: str, times: list[float], size: int) -> None:
    print(f"{label:44} p50 {1000 * statistics.median(times):7.1f} ms   p95 {1000 * percentile(times, 0.95):7.1f} ms"
          f"   max {1000 * max(times):7.1f} ms   ({len(times)} requests, {size / 1024:.0f} KiB each)")


def measure(spool: Path, ids: list[str], refresh: float, args: argparse.Namespace) -> None:
    """One `render serve --refresh REFRESH`: GET /api/v1/jobs alone, then with the SSE clients."""
    token = spool.parent / "token"
    token.write_text("bench-token-0123456789abcdef\n")
    token.chmod(0o600)
    log = spool.parent / f"serve-{refresh:g}.log"
    with open(log, "ab") as fh:
        proc = subprocess.Popen([str(BIN / "render"), "--spool", str(spool), "serve", "--port", "0",
                                 "--token-file", str(token), "--refresh", str(refresh)],
                                stdout=fh, stderr=subprocess.STDOUT)
    try:
        m = wait_for(lambda: re.search(r"on (http://127\.0\.0\.1:\d+/)", log.read_text()), 60,
                     what="render serve to listen")
        url = m[1]
        print(f"-- render serve --refresh {refresh:g}")
        timed_gets(url + "api/v1/jobs", 3)  # warm-up
        report("GET /api/v1/jobs, no SSE client", *timed_gets(url + "api/v1/jobs", args.requests))
        report("GET /api/v1/jobs/{job}, no SSE client",
               *timed_gets(url + f"api/v1/jobs/{ids[len(ids) // 2]}", max(10, args.requests // 4)))
        clients = [SseClient(url) for _ in range(args.clients)]
        for c in clients:
            c.start()
        for c in clients:
            c.connected.wait(60)
        stop = threading.Event()
        events = EventLog(spool / "events" / "bench.jsonl")

        def write_events() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                events({"event": "chunk-progress", "time": time.time(), "host": "bench", "job": ids[0],
                        "chunk": f"{ids[0]}-{1 + n % args.chunks:04d}", "progress": 0.5})
                stop.wait(0.05)

        writer = threading.Thread(target=write_events, daemon=True)
        writer.start()
        time.sleep(2)  # the clients settle into their poll loop
        report(f"GET /api/v1/jobs, {args.clients} SSE clients", *timed_gets(url + "api/v1/jobs", args.requests))
        stop.set()
        writer.join()
        time.sleep(1.5)
        got = [c.messages for c in clients]
        print(f"SSE: {args.clients} clients received {min(got)}-{max(got)} messages each "
              "(about 20 events/s written while measuring)")
        usage = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        print(f"render serve CPU over this run: {(int(usage[11]) + int(usage[12])) / 100:.1f} s")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=100)
    args = ap.parse_args()
    with temp_spool("renderd-bench-web-") as spool:
        t0 = time.monotonic()
        ids = fill(spool, args.jobs, args.chunks)
        print(f"spool: {args.jobs} jobs x {args.chunks} chunks ({args.chunks // 2} done each), "
              f"written in {time.monotonic() - t0:.1f} s")
        for refresh in (0.0, 1.0):
            measure(spool, ids, refresh, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
