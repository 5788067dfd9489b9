"""Cycles devices: which this host's Blender has (`renderd --list-gpus`) and which a slot uses.

The listing comes from Blender itself (kinds/scripts/cycles_devices.py, run with
`-b --factory-startup -Y`), since only Cycles knows which CUDA/OptiX/HIP/oneAPI/Metal devices
its build and this host's drivers give.  `renderd --device SPEC` (one per slot, or one for all)
is checked against it when the daemon starts, and each Blender chunk of a slot gets
`device_args(spec)`: our script, run before the render, enables exactly those devices.  Specs
come from the daemon's command line only; nothing a chunk carries chooses a device.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "scripts" / "cycles_devices.py"
TYPES = ("CPU", "CUDA", "OPTIX", "HIP", "ONEAPI", "METAL")
SPEC_RE = re.compile(r"^(CPU|CUDA|OPTIX|HIP|ONEAPI|METAL)(?::(\*|\d{1,3}))?$")
LISTING_PREFIX = "RENDERD-DEVICES "
MAX_DEVICES = 64


@dataclass(frozen=True)
class Device:
    type: str  # CPU, CUDA, OPTIX, HIP, ONEAPI, METAL
    index: int  # within its type, as `CUDA:1` counts
    id: str
    name: str

    @property
    def gpu(self) -> bool:
        return self.type != "CPU"

    @property
    def spec(self) -> str:
        return "CPU" if self.type == "CPU" else f"{self.type}:{self.index}"

    def as_dict(self) -> dict[str, object]:
        return {"type": self.type, "index": self.index, "id": self.id, "name": self.name}


def parse_spec(text: str) -> str:
    """`cuda:0` -> `CUDA:0`; ValueError with a sentence for anything else."""
    spec = text.strip().upper()
    if SPEC_RE.match(spec) is None:
        raise ValueError(f"{text!r} is not a device: use CPU, or TYPE:N or TYPE:* with TYPE one of "
                         f"{', '.join(TYPES[1:])} (renderd --list-gpus)")
    return "CPU" if spec.startswith("CPU") else spec if ":" in spec else f"{spec}:*"


def parse_listing(text: str) -> list[Device]:
    """The devices in Blender's output (the last `RENDERD-DEVICES` line); ValueError if none."""
    lines = [line for line in text.splitlines() if line.startswith(LISTING_PREFIX)]
    if not lines:
        raise ValueError("Blender printed no device list")
    try:
        raw = json.loads(lines[-1][len(LISTING_PREFIX):])
    except ValueError:
        raise ValueError("Blender's device list is not JSON") from None
    if not isinstance(raw, list) or len(raw) > MAX_DEVICES:
        raise ValueError("Blender's device list is not a short list")
    out = []
    for item in raw:
        if not (isinstance(item, dict) and item.get("type") in TYPES and isinstance(item.get("index"), int)
                and isinstance(item.get("id"), str) and isinstance(item.get("name"), str)):
            raise ValueError("Blender's device list holds an entry that is not a device")
        out.append(Device(str(item["type"]), int(item["index"]), str(item["id"])[:256], str(item["name"])[:256]))
    return out


def probe(blender: str, timeout: float = 120.0) -> list[Device]:
    """Ask this host's Blender (an absolute path) for its devices; OSError/ValueError with a sentence."""
    argv = [blender, "-b", "--factory-startup", "-Y", "--python", str(SCRIPT)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ValueError(f"{blender} did not list its devices within {timeout:g} s") from None
    return parse_listing(proc.stdout)


def select(devices: Sequence[Device], spec: str) -> list[Device]:
    """The devices a spec names on this host; ValueError saying what there is when none."""
    kind, _, which = spec.partition(":")
    chosen = [d for d in devices if d.type == kind and (which in ("", "*") or str(d.index) == which)]
    if not chosen:
        have = ", ".join(d.spec for d in devices) or "nothing"
        raise ValueError(f"--device {spec}: no such device on this host (it has: {have}; renderd --list-gpus)")
    return chosen


def slot_devices(specs: Sequence[str], slots: int) -> list[str | None]:
    """Which spec each slot renders on: one per slot in order, or one for all (None: Blender's own choice)."""
    if not specs:
        return [None] * slots
    return [specs[i % len(specs)] for i in range(slots)]


def device_args(spec: str) -> list[str]:
    """Blender arguments that make the render use `spec` (placed after `-b FILE`, before `-a`).

    The spec is checked again here (it reaches Python source): only SPEC_RE's words pass."""
    if SPEC_RE.match(spec) is None:
        raise ValueError(f"not a device spec: {spec!r}")
    expr = (f"import runpy; runpy.run_path({str(SCRIPT)!r}, init_globals={{'RENDERD_DEVICE': {spec!r}}}, "
            "run_name='__main__')")
    return ["--python-exit-code", "1", "--python-expr", expr]


def describe(devices: Sequence[Device]) -> list[str]:
    """Lines for `renderd --list-gpus`."""
    lines = [f"{d.spec:<10} {d.name}" for d in devices]
    if not any(d.gpu for d in devices):
        lines.append("no GPU: Cycles can render only on the CPU on this host")
    return lines
