"""Scene list of a .blend: blender-asset-tracer in-process vs `blender -b FILE --python-expr`.

    .venv/bin/python bench/blend_inspect_bench.py [--runs N] [--blender PATH]

Both sides print the same thing (each scene's name, start, end and step) and the script
checks that they agree.  Files: the small checked-in fixture, and a ~50 MB file (a big
mesh) made with Blender in a temporary folder, plain and zstd-compressed (read through its
seek table: render_frontend/zstd_frames.py).  Target: BAT >= 20x faster on each.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from render_frontend.blend_inspect import inspect

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "fixtures" / "blend" / "scenes_b34.blend"
PRINT_SCENES = (
    "import bpy\n"
    "for s in sorted(bpy.data.scenes, key=lambda s: s.name):\n"
    "    print('SCENE', repr((s.name, s.frame_start, s.frame_end, s.frame_step)))\n"
)
MAKE_BIG = (
    "import bpy, sys\n"
    "bpy.ops.wm.read_homefile(use_empty=True)\n"
    "bpy.ops.mesh.primitive_grid_add(x_subdivisions=620, y_subdivisions=620)\n"
    "bpy.ops.wm.save_as_mainfile(filepath=sys.argv[-2], compress=sys.argv[-1] == 'zstd')\n"
)
Scenes = list[tuple[str, int, int, int]]


def with_bat(path: Path) -> Scenes:
    return sorted((s.name, s.start, s.end, s.step) for s in inspect(path).scenes)


def with_blender(blender: str, path: Path) -> Scenes:
    out = subprocess.run(
        [blender, "-b", str(path), "--python-expr", PRINT_SCENES, "--python-exit-code", "1"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [eval(line[6:]) for line in out.splitlines() if line.startswith("SCENE ")]  # our own repr() output


def timed(fn: Callable[[], Scenes], runs: int) -> tuple[float, Scenes]:
    times, result = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def make_big(blender: str, folder: Path, compression: str) -> Path:
    path = folder / f"big-{compression}.blend"
    subprocess.run(
        [blender, "-b", "--factory-startup", "--python-expr", MAKE_BIG, "--", str(path), compression],
        capture_output=True, check=True,
    )  # fmt: skip
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (the median is reported)")
    parser.add_argument("--blender", default="blender")
    args = parser.parse_args()
    version = subprocess.run([args.blender, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"blend_inspect: BAT in-process vs `{args.blender} -b FILE --python-expr` ({version}), median of {args.runs}")
    worst = float("inf")
    with tempfile.TemporaryDirectory(prefix="blend-bench-") as tmp:
        files = [SMALL, make_big(args.blender, Path(tmp), "plain"), make_big(args.blender, Path(tmp), "zstd")]
        for path in files:
            bat_s, bat_scenes = timed(partial(with_bat, path), args.runs)
            blender_s, blender_scenes = timed(partial(with_blender, args.blender, path), args.runs)
            if bat_scenes != blender_scenes:
                print(f"MISMATCH on {path.name}: BAT {bat_scenes} vs Blender {blender_scenes}")
                return 1
            ratio = blender_s / bat_s
            worst = min(worst, ratio)
            size = path.stat().st_size / 1e6
            print(
                f"{path.name:24} {size:7.1f} MB  {len(bat_scenes)} scene(s)  BAT {bat_s * 1000:7.1f} ms  "
                f"blender {blender_s * 1000:7.1f} ms  ratio {ratio:6.1f}x"
            )
    print(f"worst ratio {worst:.1f}x (target >= 20x): {'ok' if worst >= 20 else 'MISSED'}")
    return 0 if worst >= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
