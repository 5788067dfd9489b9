"""`render` start-up: the whole process of `render --version`, of a tab completion, and of the two
calls the Blender add-on makes on each refresh (`render hosts --json`, `render status JOB --json`).

    .venv/bin/python bench/startup.py                       # this checkout's `render`
    .venv/bin/python bench/startup.py --vs OTHER/bin/render # and another install, in turn (A B A B)

Each figure is the median (min-max) of --runs whole-process runs after one warm-up, CPU from the
kernel's accounting of the reaped child (os.wait4), wall from a monotonic clock; with --vs the
ratio this/other is taken pair by pair.  A job of 10 chunks is queued in a temp spool first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(cpu seconds, wall seconds) of one whole run, its output thrown away."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--vs", type=Path, help="another `render` program to compare with")
    args = parser.parse_args()
    programs = [str(BIN / "render")] + ([str(args.vs)] if args.vs else [])
    with tempfile.TemporaryDirectory() as tmp:
        spool = Path(tmp) / "spool"
        spool.mkdir()
        env = dict(os.environ, RENDERD_SPOOL=str(spool))
        job = subprocess.run([programs[0], "add", "--frames", "1-100", "--", "true"], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
        complete = dict(env, _RENDER_COMPLETE="bash_complete", COMP_WORDS="render st", COMP_CWORD="1")
        cases = [("render --version", ["--version"], env), ("tab completion `render st`", [], complete),
                 ("render hosts --json", ["hosts", "--json"], env),
                 ("render status JOB --json", ["status", job, "--json"], env)]
        for title, extra, case_env in cases:
            cpu: list[list[float]] = [[] for _ in programs]
            wall: list[list[float]] = [[] for _ in programs]
            for program in programs:
                run_once([program, *extra], case_env)  # warm-up
            for _ in range(args.runs):
                for i, program in enumerate(programs):
                    c, w = run_once([program, *extra], case_env)
                    cpu[i].append(c)
                    wall[i].append(w)
            line = f"{title:28} cpu {spread(cpu[0])} s, wall {spread(wall[0])} s"
            if args.vs:
                ratio = [a / b for a, b in zip(cpu[0], cpu[1], strict=True)]
                line += f" | other: cpu {spread(cpu[1])} s, wall {spread(wall[1])} s | cpu this/other {spread(ratio)}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
