"""The daemon's Cycles devices: checked once at start, one spec per slot (`renderd --device`).

A spec that names no device on this host stops the daemon at start with one line: a daemon
that took GPU jobs and rendered them on the CPU, or failed each, would be worse than none.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from renderd.errors import RenderdError
from renderd.kinds import Capabilities
from renderd.kinds.devices import Device, parse_listing, probe, select, slot_devices


@dataclass(frozen=True)
class HostDevices:
    listed: tuple[Device, ...] = ()  # what this host's Blender listed (empty: not asked, no --device)
    slots: tuple[str | None, ...] = ()  # the spec each slot renders on
    gpu: bool = False

    def spec_of(self, slot: int) -> str | None:
        return self.slots[slot] if 0 <= slot < len(self.slots) else None

    def record(self) -> dict[str, object]:
        """The host record's fields (format/host.py)."""
        if not self.listed:
            return {}
        return {"gpu": self.gpu, "devices": [d.as_dict() for d in self.listed], "slot_devices": list(self.slots)}


@dataclass
class DeviceSetup:
    specs: tuple[str, ...] = ()
    listing: Path | None = None  # a recorded listing instead of asking Blender (tests; a host where it hangs)
    found: HostDevices = field(default_factory=HostDevices)

    def check(self, caps: Capabilities, slots: int) -> Capabilities:
        """Ask Blender (or read the recorded listing), check every spec; RenderdError with one line."""
        if not self.specs:
            return caps
        try:
            if self.listing is not None:
                listed = parse_listing(self.listing.read_text(encoding="utf-8", errors="replace"))
            elif caps.blender_version is None:
                raise ValueError(f"no working Blender ({caps.blender}) to ask for its devices")
            else:
                listed = probe(caps.blender)
            for spec in self.specs:
                select(listed, spec)
        except (OSError, ValueError) as err:
            raise RenderdError(f"--device: {err}") from None
        per_slot = tuple(slot_devices(self.specs, slots))
        gpu = any(s is not None and s != "CPU" for s in per_slot)
        self.found = HostDevices(tuple(listed), per_slot, gpu)
        return replace(caps, gpu=gpu)

    def caps_for(self, caps: Capabilities, slot: int) -> Capabilities:
        spec = self.found.spec_of(slot)
        return caps if spec is None else replace(caps, device=spec)
