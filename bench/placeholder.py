"""renderd against Blender's placeholder trick, with the real Blender (issue 11).

    .venv/bin/python bench/placeholder.py [--workers 2] [--short-frames 40] [--long-frames 12]
                                          [--skip-long] [--skip-kill]

For frames of ~0.2 s and of ~2 s (a Cycles animation made here with real Blender,
bench/make_blend.py: fixed seed, no adaptive sampling, no denoising), in one run:

- one worker: `blender -b f.blend -Y -t 1 -a` (at SCHED_IDLE and nice 19, as renderd's chunks);
- the trick: W workers, each `blender -b trick.blend -Y -t 1 -a` on the whole range at once,
  the file saved with Placeholders on and Overwrite off (each skips frames another started);
- renderd: W daemons on a temp spool, `render add f.blend --chunk N -- -t 1` (10-frame chunks on
  the short frames, `--long-chunk` (4) on the long ones, so W daemons share them), cold
  (`--no-warm`) and warm (the default);
each as wall time (from the start, or from just before `render add`, to the last frame file's
mtime: nobody's polling counts) and speed-up over one worker.  For renderd also the daemon's own CPU ms per
chunk (/proc utime+stime of the renderd processes over the job / chunks) and the gap between
chunks on one daemon: the first frame file of a chunk minus the last of the chunk it ran
before, minus one frame's render time (frame files keep Blender's mtime when renamed into place).

Then a killed worker: the trick with one worker killed (-9) mid-range, and renderd with one
daemon killed (-9) mid-chunk (`--lease 5s`, so the other takes its chunk over): frames missing
or 0 bytes at the end.  Prints one table; nothing is mocked.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import BIN, CLK_TCK, RenderdProc, wait_for  # noqa: E402

MAKE = ROOT / "bench" / "make_blend.py"
BLENDER = shutil.which("blender") or "blender"
# renderd runs chunks at SCHED_IDLE and nice 19; the other setups get the same class, or a busy
# machine's other work would slow renderd alone (as bench/dispatch.py does for nq and tsp).
IDLE = ["chrt", "--idle", "0", "nice", "-n", "19"]
SHORT = (64, 300)  # square size, samples: ~0.2 s a frame on one thread here
LONG = (128, 850)  # ~2 s


def make(path: Path, size: int, samples: int, frames: int, trick: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([BLENDER, "-b", "--factory-startup", "--python", str(MAKE), "--", str(path), str(size),
                    str(samples), str(frames), "1", "trick" if trick else "plain"],
                   check=True, capture_output=True, timeout=600)
    return path


def frames_state(folder: Path, frames: int, prefix: str = "a_") -> tuple[int, int]:
    """(missing, empty) frames 1..frames in folder."""
    missing = empty = 0
    for n in range(1, frames + 1):
        path = folder / f"{prefix}{n:04d}.png"
        if not path.exists():
            missing += 1
        elif path.stat().st_size == 0:
            empty += 1
    return missing, empty


def last_frame(folder: Path) -> float:
    """When the last frame file was written (wall clock): the end of a render, whoever waits for it."""
    return max((p.stat().st_mtime for p in folder.glob("*.png") if p.stat().st_size > 0), default=time.time())


def one_worker(blend: Path) -> float:
    start = time.time()
    subprocess.run([*IDLE, BLENDER, "-b", str(blend), "-Y", "-t", "1", "-a"], check=True, capture_output=True,
                   timeout=3600)
    return last_frame(blend.parent / "a") - start


def trick(blend: Path, workers: int, frames: int, kill_after: float | None = None) -> tuple[float, int, int]:
    start = time.time()
    procs = [subprocess.Popen([*IDLE, BLENDER, "-b", str(blend), "-Y", "-t", "1", "-a"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(workers)]
    if kill_after is not None:
        time.sleep(kill_after)  # a fixed point in the range, not synchronisation
        procs[0].send_signal(signal.SIGKILL)
    for p in procs:
        p.wait(3600)
    missing, empty = frames_state(blend.parent / "a", frames)
    return last_frame(blend.parent / "a") - start, missing, empty


def cpu_ticks(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def renderd_run(base: Path, blend_src: Path, workers: int, frames: int, warm: bool,
                kill_daemon: bool = False, chunk: int = 10, prestart: bool = False) -> dict[str, Any]:
    spool = Path(tempfile.mkdtemp(prefix=("warm-" if warm else "cold-") + ("kill-" if kill_daemon else ""),
                                  dir=base)) / "spool"
    shots = spool / "shots"
    shots.mkdir(parents=True)
    blend = shots / blend_src.name
    shutil.copy2(blend_src, blend)
    args = ["--poll", "0.5", "--min-free-mem", "0", *([] if warm else ["--no-warm"]),
            *(["--warm-prestart"] if prestart else [])]
    begun = time.time()
    if kill_daemon:
        args += ["--lease", "5s"]
    subprocess.run([str(BIN / "render"), "--spool", str(spool), "add", "--dry-run", str(blend)], check=True,
                   capture_output=True, timeout=120)  # lays the spool out and warms BAT's imports
    daemons = []
    for i in range(workers):  # one after the other: two first starts at once race on the spool's marker file
        daemons.append(RenderdProc(spool, f"d{i}", args, base))
        daemons[-1].wait_registered(180)  # a loaded machine starts slowly
    pids = [d.pid for d in daemons]
    if prestart:  # the pre-started Blenders are up before the job comes (that is their point)
        wait_for(lambda: len(ready_blanks(begun)) >= workers, 300, 0.1, "pre-started Blenders")
    before = cpu_ticks(pids)
    start = time.time()
    add = [str(BIN / "render"), "--spool", str(spool), "add", "--json", str(blend), "--chunk", str(chunk),
           "--", "-t", "1"]
    out = subprocess.run(add, check=True, capture_output=True, text=True, timeout=120)
    job = json.loads(out.stdout)["job"]
    added = time.time() - start
    if kill_daemon:
        victim = daemons[0]
        wait_for(lambda: any(c.get("pid") for c in (victim.host_record() or {}).get("chunks", [])), 300, 0.05,
                 "a chunk on the first daemon")
        time.sleep(0.5)  # mid-chunk: a frame or two in
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
    waited = subprocess.run([str(BIN / "render"), "--spool", str(spool), "wait", job, "--timeout", "1800"],
                            capture_output=True, text=True, timeout=2000)
    after = cpu_ticks(pids)
    wall = last_frame(shots / "a") - start
    done = [json.loads(p.read_text()) for p in sorted((spool / "jobs" / job / "done").glob("*.json"))]
    for d in daemons:
        d.stop()
    missing, empty = frames_state(shots / "a", frames)
    return {"wall": wall, "added": added, "cpu_ms_per_chunk": (after - before) * 1000 / CLK_TCK / max(len(done), 1),
            "gaps": gaps(done), "missing": missing, "empty": empty, "exit": waited.returncode, "chunks": len(done)}


def ready_blanks(since: float) -> list[Path]:
    out = []
    for log in Path(tempfile.gettempdir()).glob("renderd-warm-*/*.log"):
        try:
            if log.stat().st_mtime >= since and "warm runner ready (no file yet)" in log.read_text(errors="replace"):
                out.append(log)
        except OSError:
            continue
    return out


def gaps(done: list[dict[str, Any]]) -> list[float]:
    """Per daemon, between consecutive chunks: first frame of the next - last frame of the one before -
    one frame's render time (the median frame time of the job)."""
    times = [t for rec in done for t in rec.get("frame_times", [])]
    frame = statistics.median(times) if times else 0.0
    by_host: dict[str, list[tuple[float, float]]] = {}
    for rec in done:
        mtimes = [os.stat(p).st_mtime for p in rec.get("saved", []) if os.path.exists(p)]
        if mtimes:
            by_host.setdefault(rec["host"], []).append((min(mtimes), max(mtimes)))
    out = []
    for spans in by_host.values():
        spans.sort()
        out += [nxt[0] - prev[1] - frame for prev, nxt in itertools.pairwise(spans)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--short-frames", type=int, default=40)
    parser.add_argument("--long-frames", type=int, default=16)
    parser.add_argument("--long-chunk", type=int, default=4, help="renderd's --chunk on the long frames (default 4)")
    parser.add_argument("--also-chunk", type=int, default=0,
                        help="also renderd warm with this --chunk (a warm Blender makes small chunks cheap)")
    parser.add_argument("--prestart", action="store_true", help="also renderd warm with --warm-prestart")
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--skip-kill", action="store_true")
    opts = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="renderd-placeholder-"))
    rows: list[str] = []
    try:
        cases = [("short", SHORT, opts.short_frames, 10)]
        cases += [] if opts.skip_long else [("long", LONG, opts.long_frames, opts.long_chunk)]
        for label, (size, samples), frames, chunk in cases:
            folder = base / label
            folder.mkdir()
            plain = make(folder / "one" / "f.blend", size, samples, frames)
            one = one_worker(plain)
            tricked = make(folder / "trick" / "f.blend", size, samples, frames, trick=True)
            trick_wall, _, _ = trick(tricked, opts.workers, frames)
            cold = renderd_run(folder, plain, opts.workers, frames, warm=False, chunk=chunk)
            warm = renderd_run(folder, plain, opts.workers, frames, warm=True, chunk=chunk)
            per_frame = one / frames
            rows.append(f"## {label} frames: {frames} frames, ~{per_frame:.2f} s a frame (one worker's wall / frames),"
                        f" {opts.workers} workers x 1 thread, renderd --chunk {chunk}")
            rows.append(f"{'setup':<34} {'wall s':>8} {'speed-up':>9}")
            rows.append(f"{'one worker, -a':<34} {one:8.2f} {1.0:8.2f}x")
            trick_name = f"placeholder trick, {opts.workers} workers"
            rows.append(f"{trick_name:<34} {trick_wall:8.2f} {one / trick_wall:8.2f}x")
            setups = [("renderd cold (--no-warm)", cold), ("renderd warm", warm)]
            if opts.prestart:
                setups.append(("renderd warm --warm-prestart",
                               renderd_run(folder, plain, opts.workers, frames, warm=True, chunk=chunk, prestart=True)))
            if opts.also_chunk:
                setups.append((f"renderd warm --chunk {opts.also_chunk}",
                               renderd_run(folder, plain, opts.workers, frames, warm=True, chunk=opts.also_chunk)))
            for name, res in setups:
                rows.append(f"{f'{name}, {opts.workers} daemons':<34} {res['wall']:8.2f} {one / res['wall']:8.2f}x"
                            f"   (render add {res['added']:.2f} s) daemon CPU {res['cpu_ms_per_chunk']:.0f} ms/chunk, "
                            "gap between chunks "
                            f"{_fmt(res['gaps'])} s ({res['chunks']} chunks, exit {res['exit']})")
            print("\n".join(rows[-(4 + len(setups)):]), flush=True)
        if not opts.skip_kill:
            frames = opts.short_frames
            folder = base / "kill"
            folder.mkdir()
            tricked = make(folder / "trick" / "f.blend", *SHORT, frames, trick=True)
            _, missing, empty = trick(tricked, opts.workers, frames, kill_after=3.0)
            rows.append(f"## kill -9 of one worker mid-range ({frames} short frames)")
            rows.append(f"placeholder trick: {missing} missing, {empty} empty (0-byte) frames at the end")
            plain = make(folder / "one" / "f.blend", *SHORT, frames)
            for warm_on in (False, True):
                res = renderd_run(folder, plain, opts.workers, frames, warm=warm_on, kill_daemon=True)
                rows.append(f"renderd {'warm' if warm_on else 'cold'} (one daemon killed mid-chunk, --lease 5s): "
                            f"{res['missing']} missing, {res['empty']} empty frames (render wait exit {res['exit']})")
            print("\n".join(rows[-4:]), flush=True)
    finally:
        if os.environ.get("RENDERD_BENCH_KEEP"):
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print("\n" + "\n".join(rows))


def _fmt(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


if __name__ == "__main__":
    main()
