"""`render addon build`: the Blender add-on as one zip, for Blender 3.x and 4.2+ alike.

The zip holds one folder, `renderd_blender/`, with `__init__.py` (bl_info: Edit > Preferences >
Add-ons > Install) and `blender_manifest.toml` (Blender 4.2+: Get Extensions > Install from
Disk, which accepts a manifest inside one folder).  Versions are filled in from renderd's.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import click

from render_frontend import terminal
from renderd import __version__

SOURCE = Path(__file__).resolve().parents[1] / "blender_addon"
FOLDER = "renderd_blender"
FILES = ("__init__.py", "blender_manifest.toml")


def versioned(name: str, text: str) -> str:
    if name == "blender_manifest.toml":
        return re.sub(r'(?m)^version = ".*"$', f'version = "{__version__}"', text)
    numbers = ", ".join(str(int(n)) for n in __version__.split(".")[:3])
    return re.sub(r'(?m)^    "version": \(.*\),$', f'    "version": ({numbers}),', text)


def build(output: Path) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    target = output / f"renderd-blender-{__version__}.zip"
    tmp = target.with_name(f".{target.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in FILES:
            zf.writestr(f"{FOLDER}/{name}", versioned(name, (SOURCE / name).read_text(encoding="utf-8")))
    tmp.rename(target)
    return target


@click.group("addon")
def command() -> None:
    """The Blender add-on ("Send to renderd" in Render Properties)."""


@command.command("build")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to write the zip to.",
)
def build_command(output: Path) -> None:
    """Build the add-on zip (installs as a legacy add-on and as a Blender 4.2+ extension)."""
    try:
        terminal.echo(build(output))
    except OSError as err:
        raise click.ClickException(f"cannot build the add-on: {err}") from None
