"""`renderd --list-gpus [--json]` and `--device SPEC`: the command-line side of kinds/devices.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from renderd.kinds.blender_version import host_blender
from renderd.kinds.devices import Device, describe, parse_listing, parse_spec, probe


def device_specs(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """Each --device checked for its shape here (whether this host has it: at daemon start)."""
    try:
        return tuple(parse_spec(v) for v in value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def host_devices(blender: str, listing: Path | None) -> list[Device]:
    """This host's devices (or a recorded listing's); ClickException with one line when unknown."""
    try:
        if listing is not None:
            return parse_listing(listing.read_text(encoding="utf-8", errors="replace"))
        program, version = host_blender(blender)
        if version is None:
            raise click.ClickException(f"no working Blender ({blender!r}) to ask for its Cycles devices")
        return probe(program)
    except (OSError, ValueError) as err:
        raise click.ClickException(f"cannot list the Cycles devices: {err}") from None


def list_gpus(blender: str, listing: Path | None, as_json: bool) -> None:
    devices = host_devices(blender, listing)
    if as_json:
        click.echo(json.dumps({"devices": [d.as_dict() for d in devices], "gpu": any(d.gpu for d in devices),
                               "specs": [d.spec for d in devices]}))
        return
    for line in describe(devices):
        click.echo(line)
