"""What the staging folder costs a Blender chunk: make it, mark existing frames, rename the
frames into place, remove it (renderd/kinds/blender_staging.py), against Blender writing the
frames in place.  Pure file-system work on a temp folder (or --dir, e.g. a network mount);
Blender is not run, the frames are 64 KiB files written by this script in both cases.

    .venv/bin/python bench/staging_bench.py [--frames 10] [--chunks 200] [--dir PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from renderd.kinds.blender_staging import Staging

FRAME = os.urandom(64 * 1024)


def write(path: Path) -> None:
    with open(path, "wb") as fh:
        fh.write(FRAME)


def in_place(out: Path, frames: int) -> None:
    for n in range(frames):
        write(out / f"f_{n:04d}.png")


def staged(out: Path, frames: int, notes: Path, chunk: str) -> None:
    staging = Staging(out, chunk, notes)
    names = [f"f_{n:04d}.png" for n in range(frames)]
    staging.mark_existing(names)
    for name in names:
        write(staging.path / name)
        staging.move(name)
    staging.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--chunks", type=int, default=200)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        times: dict[str, list[float]] = {"in place": [], "staged": []}
        for i in range(args.chunks):  # interleaved, so both see the same machine load
            for how in times:
                out = root / how.replace(" ", "_") / str(i)
                out.mkdir(parents=True)
                t0 = time.perf_counter()
                if how == "in place":
                    in_place(out, args.frames)
                else:
                    staged(out, args.frames, root / "notes", f"job-{i:04d}")
                times[how].append(time.perf_counter() - t0)
        for how, values in times.items():
            print(f"{how:9} {args.frames} frames/chunk: median {statistics.median(values) * 1000:.2f} ms per chunk "
                  f"({args.chunks} chunks, {root})")
        extra = statistics.median(times["staged"]) - statistics.median(times["in place"])
        print(f"staging adds {extra * 1000:.2f} ms per chunk ({extra * 1000 / args.frames:.3f} ms per frame)")


if __name__ == "__main__":
    main()
