"""File-system operations: what one idle daemon and one chunk's life cost the file server.

    .venv/bin/python bench/fs_ops.py                       # local spool: syscalls (strace), ~3 minutes
    .venv/bin/python bench/fs_ops.py --fs gluster          # also GlusterFS: the server's own count
    .venv/bin/python bench/fs_ops.py --window 30 --polls 5 # a shorter run

Two counts, because they answer different questions:
* **syscalls touching the spool** (local spool or through a mount): `strace -f` is attached to the
  daemon and its spawner for the window; every system call whose path or file descriptor lies
  in the spool is counted, by call and by spool folder.  This is what the daemon asks for.
* **server operations** (`--fs gluster`): one GlusterFS volume mounted through its FUSE client
  (tests/netfs/gluster_mounts.sh); `gluster volume profile VOL info incremental` counts every
  operation the brick saw (LOOKUP, OPENDIR, READDIRP, CREATE, WRITE, RENAME, ...).  This is what
  the file server pays, after the client's caches.

Measured: an idle daemon (empty queue) for `--window` seconds at each `--polls` interval, after a
settle time; then one chunk's life: `--chunks` one-second chunks queued at once and run by the
same daemon (claim, start, log, done record, drop) less the idle cost of that window; the
heartbeat of a running chunk (one chunk running for `--window` s, less idle); the claim latency
of a job submitted through the *other* mount (`--latency` samples); and on GlusterFS busy farms
of `--farm` sizes (every daemon running one long chunk: the lease checks are what grows with the
farm).  The projection table multiplies these by the farm's size (docs/netfs.md has the figures
and the model).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from common import RenderdProc, queue_job, wait_for, wait_job_done

from renderd.spool import Spool

HERE = Path(__file__).resolve().parent
GLUSTER_SCRIPT = HERE.parent / "tests" / "netfs" / "gluster_mounts.sh"
FS_CALLS = (
    "open,openat,openat2,creat,stat,lstat,newfstatat,statx,fstat,access,faccessat,faccessat2,getdents64,"
    "rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,rmdir,link,linkat,readlink,readlinkat,"
    "utimensat,chmod,fchmod,fchmodat,read,pread64,write,pwrite64,fsync,fdatasync,close,flock,fcntl,"
    "ftruncate,inotify_add_watch"
)
_CALL_RE = re.compile(r"^\d+\s+(?:\d+\.\d+\s+)?(?P<call>\w+)\(")
_GLUSTER_ROW = re.compile(r"^\s*[\d.]+(?:\s+[\d.]+\s+[a-z]+){3}\s+(?P<n>\d+)\s+(?P<fop>[A-Z]+)\s*$")
HOST_COUNTS = (50, 500, 2000)


@dataclass
class Count:
    """Operations seen in one window."""

    seconds: float
    calls: Counter[str] = field(default_factory=Counter)  # syscall -> n
    folders: Counter[str] = field(default_factory=Counter)  # spool folder -> n
    server: Counter[str] = field(default_factory=Counter)  # gluster fop -> n

    def per_minute(self, kind: str) -> float:
        total = sum((self.calls if kind == "syscalls" else self.server).values())
        return total * 60.0 / self.seconds


def parse_strace(text: str, root: str) -> tuple[Counter[str], Counter[str]]:
    """Count the system calls of a `strace -f -y` log that name a path or fd inside `root`."""
    calls: Counter[str] = Counter()
    folders: Counter[str] = Counter()
    root = root.rstrip("/")
    # a path under the root ("/spool/claimed/x"), or a call relative to the root's own fd
    # (`newfstatat(3</spool>, "claimed", ...)`, as renderd.spool.io does): the name follows it
    under = re.compile(re.escape(root) + r'(?:/(?P<path>[^">\s]*)|>, "(?P<name>[^"]*)")')
    for line in text.splitlines():
        if "resumed>" in line:
            continue
        m = _CALL_RE.match(line)
        at = under.search(line) if m is not None else None
        if m is None or at is None:
            continue
        calls[m["call"]] += 1
        rel = at["path"] if at["path"] is not None else at["name"]
        top = rel.split("/", 1)[0] or "(root)"
        folders[f"{top}/*.hb" if rel.endswith(".hb") else top] += 1
    return calls, folders


def parse_profile(text: str) -> Counter[str]:
    """Operation counts of `gluster volume profile VOL info incremental` (all bricks summed)."""
    out: Counter[str] = Counter()
    for line in text.splitlines():
        m = _GLUSTER_ROW.match(line)
        if m is not None:
            out[m["fop"]] += int(m["n"])
    return out


class Gluster:
    """A volume mounted through the FUSE client; `profile()` returns the operations since the last call."""

    def __init__(self, base: Path) -> None:
        self.base, self.vol = base, f"fsops{os.getpid()}"
        up = subprocess.run([str(GLUSTER_SCRIPT), "up", str(base), self.vol], capture_output=True, text=True)
        if up.returncode != 0:
            self.close()
            raise SystemExit(f"fs_ops: cannot start a GlusterFS volume: {up.stderr.strip()}")
        self._gluster("volume", "profile", self.vol, "start")
        self.profile()

    @property
    def mount(self) -> Path:
        return self.base / "hostA"

    def other_view(self, path: Path) -> Path:
        """The same folder through the second mount (another host's view)."""
        return self.base / "hostB" / path.relative_to(self.mount)

    def _gluster(self, *args: str) -> str:
        return subprocess.run(["gluster", "--mode=script", *args], capture_output=True, text=True, check=True).stdout

    def profile(self) -> Counter[str]:
        return parse_profile(self._gluster("volume", "profile", self.vol, "info", "incremental"))

    def close(self) -> None:
        subprocess.run([str(GLUSTER_SCRIPT), "down", str(self.base), self.vol], capture_output=True, text=True)


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in os.listdir(f"/proc/{p}/task"):
            try:
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
            except OSError:
                continue
    return out


@contextmanager
def counting(daemon: RenderdProc, spool: Path, gluster: Gluster | None, trace: Path) -> Iterator[Count]:
    """Count what `daemon` (and its children, also new ones) does to `spool` while the block runs."""
    argv = ["strace", "-f", "-y", "-qq", "-e", f"trace={FS_CALLS}", "-o", str(trace)]
    for pid in _descendants(daemon.pid):
        argv += ["-p", str(pid)]
    tracer = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # strace attaches within a moment; a window of a minute does not miss it
    if gluster is not None:
        gluster.profile()
    count = Count(0.0)
    start = time.monotonic()
    try:
        yield count
    finally:
        count.seconds = time.monotonic() - start
        if gluster is not None:
            count.server = gluster.profile()
        tracer.send_signal(signal.SIGINT)  # detaches; the daemon runs on
        tracer.wait(30)
        count.calls, count.folders = parse_strace(trace.read_text(errors="replace"), str(spool))


def _spool(where: Path) -> Path:
    spool = where / f"farm{os.getpid()}-{time.monotonic_ns()}"
    spool.mkdir()
    Spool.open(spool, create=True)
    return spool


def measure(where: Path, gluster: Gluster | None, args: argparse.Namespace, extra: list[str]) -> dict[str, object]:
    results: dict[str, object] = {}
    logs = Path(tempfile.mkdtemp(prefix="fsops-logs-"))
    for poll in args.polls:
        spool = _spool(where)
        daemon = RenderdProc(spool, "fsops", ["--poll", str(poll), "--allow-commands", *extra], logs)
        try:
            daemon.wait_registered(120)
            time.sleep(args.settle)
            with counting(daemon, spool, gluster, logs / f"idle-{poll}.strace") as idle:
                time.sleep(args.window)
            results[f"idle poll {poll:g}"] = _row(idle)
            if poll == args.polls[0] and not args.idle_only:
                results.update(_chunk_costs(daemon, spool, gluster, logs, idle, args))
                if args.latency:
                    other = gluster.other_view(spool) if gluster is not None else spool
                    lat = claim_latency(daemon, other, args.latency)
                    results[f"claim latency poll {poll:g} (s)"] = {
                        "median": round(sorted(lat)[len(lat) // 2], 2),
                        "max": round(max(lat), 2), "samples": [round(x, 2) for x in lat]}
        finally:
            daemon.stop()
    if gluster is not None:
        for n in args.farm:
            results[f"busy farm of {n}"] = farm_cost(where, gluster, n, args, extra)
    return results


def _chunk_costs(
    daemon: RenderdProc, spool: Path, gluster: Gluster | None, logs: Path, idle: Count, args: argparse.Namespace
) -> dict[str, object]:
    out: dict[str, object] = {}
    with counting(daemon, spool, gluster, logs / "chunks.strace") as life:
        job = queue_job(spool, ["sleep", "1"], args.chunks, name="fsops")
        wait_job_done(spool, job, args.chunks, 120 + 10 * args.chunks)
    out["chunk life (per chunk)"] = _row(life, idle, per=args.chunks)
    long_job = queue_job(spool, ["sleep", str(args.window + 15)], 1, name="fsbeat")
    wait_for(lambda: any(spool.joinpath("claimed").glob("*.hb")), 60, 0.1, "the long chunk to start")
    time.sleep(2)  # its start is part of the chunk's life, counted above
    with counting(daemon, spool, gluster, logs / "beat.strace") as beat:
        time.sleep(args.window)
    wait_job_done(spool, long_job, 1, args.window + 120)  # the slot is free again for what follows
    out["running chunk (per minute, beyond idle)"] = _row(beat, idle, per=beat.seconds / 60.0)
    return out


def farm_cost(where: Path, gluster: Gluster, n: int, args: argparse.Namespace, extra: list[str]) -> dict[str, object]:
    """Server operations of `n` daemons on one mount, each running one long chunk (a busy farm):
    the lease checks are what grows with the farm, so ops per daemon should stay flat."""
    spool = _spool(where)
    logs = Path(tempfile.mkdtemp(prefix="fsops-farm-"))
    procs = [RenderdProc(spool, f"f{i}", ["--poll", str(args.polls[0]), "--allow-commands", *extra], logs)
             for i in range(n)]
    try:
        for p in procs:
            p.wait_registered(120)
        queue_job(spool, ["sleep", str(args.window + args.settle + 60)], n, name="fsfarm")
        wait_for(lambda: len(list(spool.joinpath("claimed").glob("*.hb"))) == n, 120, 0.2, f"{n} chunks to run")
        time.sleep(args.settle)
        gluster.profile()
        start = time.monotonic()
        time.sleep(args.window)
        ops = gluster.profile()
        minutes = (time.monotonic() - start) / 60.0
    finally:
        for p in procs:
            p.proc.send_signal(signal.SIGTERM)
        for p in procs:
            p.stop()
    total = sum(ops.values()) / minutes
    return {"daemons": n, "server_ops": round(total, 1), "per_daemon": round(total / n, 1),
            "by_fop": dict(ops.most_common(8))}


def claim_latency(daemon: RenderdProc, submit_to: Path, samples: int) -> list[float]:
    """Seconds from a job's submission (through `submit_to`: another mount than the daemon's, so
    inotify cannot help) to its one chunk's start, as the done record says; one job at a time."""
    out = []
    for i in range(samples):
        time.sleep(0.37 * (i % 7))  # submissions at different phases of the daemon's poll
        submitted = time.time()
        job = queue_job(submit_to, ["true"], 1, name=f"lat{i}")
        (record,) = wait_job_done(submit_to, job, 1, 120)
        out.append(float(record["started"]) - submitted)
    return out


def _row(c: Count, idle: Count | None = None, per: float | None = None) -> dict[str, object]:
    """Per-minute figures (or, with `per`, the window less idle, divided by `per`)."""
    def scale(kind: str) -> float:
        total = sum((c.calls if kind == "syscalls" else c.server).values())
        if per is None:
            return round(total * 60.0 / c.seconds, 1)
        base = idle.per_minute(kind) * c.seconds / 60.0 if idle is not None else 0.0
        return round((total - base) / per, 1)

    row: dict[str, object] = {"syscalls": scale("syscalls"), "seconds": round(c.seconds, 1)}
    row["by_call"] = dict(c.calls.most_common(12))
    row["by_folder"] = dict(c.folders.most_common(8))
    if c.server:
        row["server_ops"] = scale("server")
        row["by_fop"] = dict(c.server.most_common(12))
    return row


def projection(idle_by_poll: dict[float, float], polls: list[float]) -> list[str]:
    """hosts x poll -> operations/s of an idle farm, from per-minute costs at two polls (a + b/poll)."""
    (p1, o1), (p2, o2) = sorted(idle_by_poll.items())[:2] if len(idle_by_poll) > 1 else [(polls[0], 0.0)] * 2
    per_poll = (o1 - o2) / (60 / p1 - 60 / p2) if p1 != p2 else 0.0
    fixed = o1 - per_poll * 60 / p1 if p1 != p2 else next(iter(idle_by_poll.values()))
    lines = [f"model: {fixed:.1f} ops/min + {per_poll:.2f} ops per poll", "| hosts | " +
             " | ".join(f"poll {p:g} s" for p in (2, 5, 10, 30)) + " |", "|---:|" + "---:|" * 4]
    for hosts in HOST_COUNTS:
        cells = [f"{hosts * (fixed + per_poll * 60 / p) / 60:,.0f}" for p in (2, 5, 10, 30)]
        lines.append(f"| {hosts:,} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fs", choices=["local", "gluster", "both"], default="local")
    ap.add_argument("--window", type=float, default=60.0, help="seconds counted per idle figure")
    ap.add_argument("--settle", type=float, default=15.0, help="seconds after start-up before counting")
    ap.add_argument("--polls", type=float, nargs="+", default=[5.0, 2.0], help="poll intervals to measure")
    ap.add_argument("--chunks", type=int, default=10)
    ap.add_argument("--latency", type=int, default=8, help="claim-latency samples (0: none)")
    ap.add_argument("--idle-only", action="store_true", help="measure the idle daemon only")
    ap.add_argument("--farm", type=int, nargs="*", default=[2, 4, 8],
                    help="GlusterFS: busy farms of these sizes, one long chunk per daemon")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("renderd_args", nargs="*", help="extra renderd options (after --)")
    args = ap.parse_args()
    if shutil.which("strace") is None:
        raise SystemExit("fs_ops: strace is not installed (Debian: apt-get install strace)")
    report: dict[str, object] = {}
    if args.fs in ("local", "both"):
        with tempfile.TemporaryDirectory(prefix="fsops-") as tmp:
            report["local"] = measure(Path(tmp), None, args, args.renderd_args)
    if args.fs in ("gluster", "both"):
        if shutil.which("gluster") is None:
            raise SystemExit("fs_ops: GlusterFS is not installed (Debian: apt-get install glusterfs-server)")
        base = Path(tempfile.mkdtemp(prefix="fsops-gluster-"))
        gluster = Gluster(base)
        try:
            report["gluster"] = measure(gluster.mount, gluster, args, args.renderd_args)
        finally:
            gluster.close()
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    for fs, rows in report.items():
        assert isinstance(rows, dict)
        print(f"== {fs}")
        kind = "server_ops" if fs == "gluster" else "syscalls"
        idle = {}
        for name, row in rows.items():
            if name.startswith("busy farm"):
                print(f"{name:<42} {row['server_ops']:>8} server_ops ({row['per_daemon']} per daemon)   "
                      f"{row['by_fop']}")
                continue
            if name.startswith("claim latency"):
                print(f"{name:<42} median {row['median']} s, max {row['max']} s   {row['samples']}")
                continue
            print(f"{name:<42} {row.get(kind, row['syscalls'])!s:>8} {kind}   {json.dumps(row)}")
            if name.startswith("idle poll "):
                idle[float(name.split()[-1])] = float(row.get(kind, 0.0))
        print("\n".join(projection(idle, args.polls)))


if __name__ == "__main__":
    main()
