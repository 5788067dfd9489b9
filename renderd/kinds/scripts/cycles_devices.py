"""Inside Blender: list the Cycles devices (`renderd --list-gpus`), or render on one (`--device`).

Listing prints one line, `RENDERD-DEVICES <json>`: a list of {"type", "index", "id", "name"}
(the CPU first, then each GPU backend's devices in Blender's order; `index` counts within its
type, as `--device CUDA:1` does).  Using a device is asked by the daemon through
`--python-expr`, which sets RENDERD_DEVICE before this file runs: it enables the chosen
devices in the (factory or user) preferences and sets every scene's Cycles device.  A spec
that names no device on this host prints `RENDERD-DEVICE-ERROR ...` and exits 1 (the daemon
passes `--python-exit-code 1`), so a chunk never renders silently on the CPU instead.
"""

from __future__ import annotations

import json
import sys
from typing import Any

BACKENDS = ("CUDA", "OPTIX", "HIP", "ONEAPI", "METAL")


def _devices(bpy: Any) -> list[dict[str, Any]]:
    prefs = bpy.context.preferences.addons["cycles"].preferences
    out: list[dict[str, Any]] = []
    prefs.refresh_devices()
    for dev in prefs.devices:
        if dev.type == "CPU":
            out.append({"type": "CPU", "index": 0, "id": str(dev.id), "name": str(dev.name)})
            break
    if not out:
        out.append({"type": "CPU", "index": 0, "id": "CPU", "name": "CPU"})
    for backend in BACKENDS:
        try:
            prefs.compute_device_type = backend
        except TypeError:
            continue  # this Blender build has no such backend
        found = [d for d in prefs.get_devices_for_type(backend) if d.type == backend]
        out.extend({"type": backend, "index": i, "id": str(d.id), "name": str(d.name)} for i, d in enumerate(found))
    return out


def _use(bpy: Any, spec: str) -> None:
    kind, _, which = spec.partition(":")
    prefs = bpy.context.preferences.addons["cycles"].preferences
    if kind == "CPU":
        for scene in bpy.data.scenes:
            scene.cycles.device = "CPU"
        print("renderd: rendering on the CPU", flush=True)
        return
    try:
        prefs.compute_device_type = kind
    except TypeError:
        print(f"RENDERD-DEVICE-ERROR this Blender has no {kind} support", flush=True)
        sys.exit(1)
    prefs.refresh_devices()
    found = [d for d in prefs.get_devices_for_type(kind) if d.type == kind]
    chosen = found if which in ("", "*") else found[int(which):int(which) + 1]
    if not chosen:
        print(f"RENDERD-DEVICE-ERROR no {spec} device on this host", flush=True)
        sys.exit(1)
    for dev in prefs.get_devices_for_type(kind):
        dev.use = any(dev.id == c.id for c in chosen)
    for scene in bpy.data.scenes:
        scene.cycles.device = "GPU"
    print(f"renderd: rendering on {', '.join(str(c.name) for c in chosen)} ({spec})", flush=True)


def main() -> None:
    import bpy

    spec = globals().get("RENDERD_DEVICE")
    if isinstance(spec, str):
        _use(bpy, spec)
        return
    print("RENDERD-DEVICES " + json.dumps(_devices(bpy)), flush=True)


if __name__ == "__main__":
    main()
