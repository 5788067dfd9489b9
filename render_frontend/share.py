"""Files that ship with renderd besides code: the systemd units and the docs (docs/*.md).

In a source checkout (and an editable install) they are the tree's own `systemd/` and `docs/`;
a wheel carries copies under `render_frontend/share/` (setup.py's build step copies them), so
`render install-service` works from a normal `pip install` too.  One lookup, in that order:
the package copy first (it matches the installed code), then the source tree.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_SHARE = Path(__file__).resolve().parent / "share"
SOURCE_TREE = Path(__file__).resolve().parents[1]
FOLDERS = ("systemd", "docs")


class MissingShareFile(FileNotFoundError):
    """A shipped file is in neither place: a broken install."""


def folder(name: str) -> Path:
    """`systemd` or `docs`: the folder that holds them in this installation."""
    for base in (PACKAGE_SHARE, SOURCE_TREE):
        if (base / name).is_dir():
            return base / name
    raise MissingShareFile(
        f"{PACKAGE_SHARE / name}: not in this installation (nor {SOURCE_TREE / name}); reinstall renderd"
    )


def path(rel: str) -> Path:
    """A shipped file, e.g. `systemd/renderd.service` or `docs/config.md`."""
    top, _, rest = rel.partition("/")
    found = folder(top) / rest
    if not found.is_file():
        raise MissingShareFile(f"{found}: not in this installation; reinstall renderd")
    return found


def docs() -> list[Path]:
    """The documentation files install-service copies to share/doc/renderd."""
    return sorted(folder("docs").glob("*.md"))
