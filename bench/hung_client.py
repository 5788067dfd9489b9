"""Does a socket client that never reads slow the daemon down?  Chunk throughput side by side.

    .venv/bin/python bench/hung_client.py            # 3 rounds of 300 chunks per case
    .venv/bin/python bench/hung_client.py --quick    # 1 round of 100

One daemon on a temp spool runs batches of one-frame `true` chunks, queued in-process.  Each
batch is timed from queuing to its last done record, in turn: with no socket client, and with
clients that subscribed to every event and never read a byte (plus one that also floods the
daemon with requests it never reads the answers of).  The daemon must drop those clients
(its log says so) and keep its pace: the ratio should stay near 1.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import time
from pathlib import Path

from common import daemons, figure, queue_job, temp_spool, wait_job_done

from renderd import protocol

TRUE = shutil.which("true") or "/bin/true"


def batch_rate(spool: Path, chunks: int) -> float:
    start = time.monotonic()
    job = queue_job(spool, [TRUE], chunks)
    wait_job_done(spool, job, chunks, timeout=120 + chunks / 2)
    return chunks / (time.monotonic() - start)


def hung_clients(spool: Path, count: int, flood: bool) -> list[socket.socket]:
    (path,) = protocol.find_sockets(spool)
    out = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(path))
        s.sendall(protocol.encode(protocol.request("subscribe")))
        out.append(s)
    if flood:
        s = out[0]
        s.settimeout(5)
        try:
            for i in range(200_000):
                s.sendall(protocol.encode(protocol.request("state", i + 2)))
        except OSError:
            pass  # dropped by the daemon: what should happen
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, chunks = (1, 100) if args.quick else (3, 300)
    plain: list[float] = []
    hung: list[float] = []
    with temp_spool() as spool, daemons(spool, 1, ["--allow-commands", "--poll", "1"]) as procs:
        procs[0].wait_registered()
        batch_rate(spool, 20)  # warm-up
        for _ in range(rounds):
            plain.append(batch_rate(spool, chunks))
            clients = hung_clients(spool, 4, flood=True)
            hung.append(batch_rate(spool, chunks))
            for c in clients:
                c.close()
        log = procs[0].log.read_text(errors="replace")
    dropped = log.count("dropped socket client")
    a, b = statistics.median(plain), statistics.median(hung)
    figure("chunks/s, no socket client", f"{a:.1f}", f"median of {rounds} x {chunks}")
    figure("chunks/s, 4 subscribers that never read", f"{b:.1f}", f"median of {rounds} x {chunks}")
    figure("ratio hung/plain", f"{b / a:.2f}", "1.00 = no slowdown")
    figure("hung clients dropped by the daemon", str(dropped), f"of {4 * rounds}")


if __name__ == "__main__":
    main()
