"""The console scripts `renderd` and `render`: load the program, or say in one line why not.

pip's generated script imports the entry point's module before any code of ours runs, so a
venv the user cannot read (or a missing dependency) was a traceback.  These two functions
import the real main inside renderd/preflight.py's check, and an OSError that no command
turned into a sentence (a folder the user cannot read, ...) is still one line.  Only the
standard library is imported here.
"""

from __future__ import annotations

import sys

from renderd.preflight import problem


def renderd_main() -> None:
    _run("renderd.cli")


def render_main() -> None:
    _run("render_frontend.cli")


def _run(module: str) -> None:
    said = problem(module)
    if said is not None:
        print(f"Error: {said}", file=sys.stderr)
        raise SystemExit(1)
    try:
        sys.modules[module].main()
    except OSError as err:  # a file-system error no command turned into a sentence: still one line
        where = f"{err.filename}: " if err.filename else ""
        print(f"Error: {where}{err.strerror or err}", file=sys.stderr)
        raise SystemExit(1) from None
