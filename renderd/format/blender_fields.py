"""The `blender` fields of an info file: what a Blender chunk may ask for, checked.

A Blender chunk stores fields, never a command line; the daemon builds the command itself
(renderd/kinds/blender.py).  The fields come from a spool file every artist can write, so
they are hostile until `validate_fields` accepted them:

    file           the .blend, relative to the spool (or absolute: a shared root, --local-ok)
    scene          the scene to render (`-S`)
    extra          Blender options placed before `-a` (an allow-list, see EXTRA_OPTIONS)
    after          words after Blender's own `--` (read by Cycles and add-ons, never run)
    trust_scripts  the job asked for Python (`-y`, `--python ...`); runs only where the
                   daemon was started with --allow-scripts
    version        [major, minor] of the Blender that saved the file: older Blenders leave it
    output         the frame files' pattern as seen from the spool: the last run of `#` in
                   the file name is the frame number (`render/main_####.png`)
    movie          one video file for the whole chunk instead of a file per frame

No value from here may reach Blender where it could read as an option.  Blender parses its
arguments in passes, and in a pass where an option has no handler its value is read as an
option itself: `-S -y` turns auto-run scripts back on after renderd's `-Y` (issue 10, finding
1).  So the scene and every value of an allowed option must not start with `-`, and the
daemon passes the .blend and the output as absolute paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from renderd.errors import BadInfoFile

MAX_PATH = 4096
MAX_SCENE = 256
MAX_ARGS = 64
HASHES_RE = re.compile(r"#+")

# Blender options a job may add before `-a`: name -> number of values it takes.
EXTRA_OPTIONS: dict[str, int] = {
    "-t": 1,
    "--threads": 1,
    "-E": 1,
    "--engine": 1,
    "--factory-startup": 0,
    "--verbose": 1,
    "-d": 0,
    "--debug": 0,
    "--debug-cycles": 0,
    "--debug-memory": 0,
    "--disable-crash-handler": 0,
    "--disable-abort-handler": 0,
    "--gpu-backend": 1,
    "--log-level": 1,
    "-noaudio": 0,
}
# Options that run code: only for jobs with trust_scripts, on daemons with --allow-scripts.
SCRIPT_OPTIONS: dict[str, int] = {
    "-y": 0,
    "--enable-autoexec": 0,
    "-P": 1,
    "--python": 1,
    "--python-text": 1,
    "--python-expr": 1,
    "--python-exit-code": 1,
    "--python-console": 0,
    "--python-use-system-env": 0,
    "--addons": 1,
    "--app-template": 1,
}
PYTHON_RUNNERS = frozenset({"-P", "--python", "--python-text", "--python-expr"})
# Cycles reads these after Blender's own `--`; `render add` moves them there.
AFTER_OPTIONS: dict[str, int] = {"--cycles-device": 1, "--cycles-print-stats": 0}


def check_extra(extra: Sequence[str], trust_scripts: bool) -> None:
    """Refuse Blender options that are unknown, clash with ours, or run code without trust."""
    i = 0
    while i < len(extra):
        word = extra[i]
        name = word.split("=", 1)[0] if word.startswith("--") else word
        if name in EXTRA_OPTIONS:
            takes = EXTRA_OPTIONS[name]
        elif name in SCRIPT_OPTIONS:
            if not trust_scripts:
                raise BadInfoFile(f"Blender option {name} runs code: the job must ask for trusted scripts")
            takes = SCRIPT_OPTIONS[name]
        elif not word.startswith("-"):
            raise BadInfoFile(f"Blender argument {word!r} is not an option (Blender would load it as a file)")
        else:
            raise BadInfoFile(
                f"Blender option {name} is not allowed before -a (renderd sets the file, scene, frames and output "
                f"itself; allowed: {', '.join(sorted(EXTRA_OPTIONS))})"
            )
        if "=" in word and word.startswith("--"):
            takes = 0
        if i + takes >= len(extra):
            raise BadInfoFile(f"Blender option {name} needs a value")
        for value in extra[i + 1 : i + 1 + takes]:
            if value.startswith("-"):  # even `-1`: in an earlier pass Blender would read it as an option
                raise BadInfoFile(f"Blender option {name} needs a value that does not start with '-', not {value!r}")
        i += 1 + takes


def check_frames(start: int, end: int) -> None:
    """`-s`/`-e` values: a negative one would start with `-` (and Blender's scenes start at 0)."""
    if start < 0 or end < 0:
        raise BadInfoFile(f"a Blender chunk's frames cannot be negative ({start}-{end})")


def _path_field(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_PATH or "\0" in value or "\n" in value:
        raise BadInfoFile(f"blender field {key!r} must be a path")
    if not value.startswith("/") and any(part == ".." for part in value.split("/")):
        raise BadInfoFile(f"blender field {key!r} escapes the spool: {value!r}")
    return value


def _scene_field(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_SCENE or any(c in value for c in "\0\n\r"):
        raise BadInfoFile("blender field 'scene' must be a scene name")
    if value.startswith("-"):
        raise BadInfoFile(
            f"scene name {value!r} starts with '-': Blender would read it as an option (rename the scene)"
        )
    return value


def _words(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_ARGS:
        raise BadInfoFile(f"blender field {key!r} must be a list of at most {MAX_ARGS} strings")
    for word in value:
        if not isinstance(word, str) or "\0" in word or len(word) > MAX_PATH:
            raise BadInfoFile(f"blender field {key!r} must be a list of strings")
    return list(value)


def validate_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The `blender` fields of an info file, checked; BadInfoFile says what is wrong."""
    file = _path_field(data.get("file"), "file")
    scene = _scene_field(data.get("scene"))
    trust = data.get("trust_scripts", False)
    if not isinstance(trust, bool):
        raise BadInfoFile("blender field 'trust_scripts' must be true or false")
    extra = _words(data.get("extra", []), "extra")
    check_extra(extra, trust)
    after = _words(data.get("after", []), "after")
    version = data.get("version")
    if version is not None and not (
        isinstance(version, list)
        and len(version) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1000 for v in version)
    ):
        raise BadInfoFile("blender field 'version' must be [major, minor]")
    output = _path_field(data.get("output"), "output")
    if HASHES_RE.search(output.rsplit("/", 1)[-1]) is None:
        raise BadInfoFile("blender field 'output' needs a run of '#' for the frame number in its file name")
    movie = data.get("movie", False)
    if not isinstance(movie, bool):
        raise BadInfoFile("blender field 'movie' must be true or false")
    return {
        "file": file,
        "scene": scene,
        "extra": extra,
        "after": after,
        "trust_scripts": trust,
        "version": None if version is None else list(version),
        "output": output,
        "movie": movie,
    }
