"""What a warm Blender needs for one chunk (renderd --warm; renderd/warm/ runs it).

A warm Blender is started with a cold run's own rules (`-b FILE -Y`, the job's allowed extra
options, its words after `--`) plus our runner script (kinds/scripts/warm_runner.py), and is
reused only for chunks whose start-up would have been identical: the same Blender, file,
extra options, words after `--` and Cycles device make the same `key`.  Jobs that run Python
(`trust_scripts`, `-P`, `--python*`, `-y`) always run cold: their scripts run at start-up or
at each file load, and a script's state must not carry from one chunk into the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd.format.blender_fields import PYTHON_RUNNERS
from renderd.kinds.devices import SCRIPT as DEVICE_SCRIPT

RUNNER = Path(__file__).resolve().parent / "scripts" / "warm_runner.py"
RUNS_CODE = frozenset(PYTHON_RUNNERS) | {"-y", "--enable-autoexec"}


@dataclass(frozen=True)
class WarmSpec:
    key: tuple[str, ...]  # chunks with equal keys may share one warm Blender
    argv: list[str]  # how to start it
    env: dict[str, str] = field(default_factory=dict)  # our own settings for the runner (never the spool's)
    request: dict[str, Any] = field(default_factory=dict)  # the chunk: scene, frames, output
    blank_key: tuple[str, ...] | None = None  # a Blender pre-started with no file may take it (--warm-prestart)


def warm_spec(blender: str, blend: str, fields: Mapping[str, Any], start: int, end: int, step: int, output: str,
              device: str | None) -> WarmSpec | None:
    """The warm form of a chunk, or None when it must run cold."""
    extra = [str(w) for w in fields["extra"]]
    if fields.get("trust_scripts") or any(w.split("=", 1)[0] in RUNS_CODE for w in extra):
        return None
    after = [str(w) for w in fields["after"]]
    argv = [blender, "-b", blend, "-Y", *extra, "--python-exit-code", "1", "--python", str(RUNNER)]
    if after:
        argv += ["--", *after]
    env = {"RENDERD_WARM_DEVICE": device, "RENDERD_WARM_DEVICE_SCRIPT": str(DEVICE_SCRIPT)} if device else {}
    key = (blender, blend, device or "", "\0".join(extra), "\0".join(after))
    request: dict[str, Any] = {"scene": str(fields["scene"]), "start": start, "end": end, "step": step,
                               "output": output, "file": blend}
    plain = not after and (not extra or (len(extra) == 2 and extra[0] in ("-t", "--threads") and extra[1].isdigit()))
    if plain and extra:
        request["threads"] = int(extra[1])
    return WarmSpec(key, argv, env, request, blank_spec(blender, device).key if plain else None)


def blank_spec(blender: str, device: str | None) -> WarmSpec:
    """A Blender started before any job, with no file (`renderd --warm-prestart`): `-b -Y` and our runner.
    It loads the first file it is handed (scripts off, as `-Y`), and `-t N` becomes the scene's
    fixed thread count for each render; only chunks with no other extra options may use it."""
    argv = [blender, "-b", "-Y", "--python-exit-code", "1", "--python", str(RUNNER)]
    env = {"RENDERD_WARM_DEVICE": device, "RENDERD_WARM_DEVICE_SCRIPT": str(DEVICE_SCRIPT)} if device else {}
    return WarmSpec(("blank", blender, device or ""), argv, env)
