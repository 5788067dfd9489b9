#!/usr/bin/env python3
"""A stand-in for the `blender` program, fast enough for the security tests (the e2e tests use the real one).

`--version` answers like Blender 3.4.1.  A render (`-b FILE -Y -S SCENE -o PATTERN -s S -e E -j K -a`)
prints the lines renderd reads (scene switch, `Saved:`), writes a tiny complete PNG per frame, and
appends its argv to FILE + ".runs" so a test can tell that (and how often) Blender ran.
"""

import itertools
import os
import re
import sys

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def frame_file(pattern: str, frame: int) -> str:
    head, sep, name = pattern.rpartition("/")
    runs = list(re.finditer(r"#+", name))
    if not runs:
        return f"{pattern}{frame:04d}"
    run = runs[-1]
    return f"{head}{sep}{name[: run.start()]}{frame:0{run.end() - run.start()}d}{name[run.end() :]}"


def main(argv: list[str]) -> int:
    if "--version" in argv:
        print("Blender 3.4.1\n\tbuild date: fake")
        return 0
    opts = dict(itertools.pairwise(argv))
    blend, scene, pattern = opts["-b"], opts["-S"], opts["-o"]
    start, end, step = int(opts["-s"]), int(opts["-e"]), int(opts.get("-j", "1"))
    with open(blend + ".runs", "a") as fh:
        fh.write(" ".join(argv) + "\n")
    print(f"Scene switch for render: '{scene}' in file: '{blend}'", flush=True)
    for frame in range(start, end + 1, step):
        path = frame_file(pattern, frame)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(PNG)
        print(f"Saved: '{path}'", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
