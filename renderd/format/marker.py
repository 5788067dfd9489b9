"""The spool marker (format 1): `renderd-spool.toml`, which says a folder is a spool and of which format.

TOML, so that an admin can read it: `format`, `created_by`, `created`.  A marker of a newer
format makes every renderd refuse the spool with a line that says to upgrade; an unreadable one
is one line too (`tomllib` is recursive like `json`, so its nesting is bounded first).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from renderd.errors import SpoolError
from renderd.format import FORMAT
from renderd.format.jsonload import nesting_depth_ok

MAX_MARKER_BYTES = 64 * 1024
MARKER_DEPTH = 8


@dataclass(frozen=True)
class Marker:
    format: int = FORMAT
    created_by: str = ""
    created: float = 0.0

    def to_text(self) -> str:
        by = self.created_by.replace("\\", "\\\\").replace('"', '\\"')
        return ("# This folder is a renderd spool: a render farm queue. See docs/spool-format.md.\n"
                f"format = {self.format}\n"
                f'created_by = "{by}"\n'
                f"created = {self.created:.0f}\n")

    @classmethod
    def from_bytes(cls, raw: bytes, path: Path | str | None = None, reads_up_to: int = FORMAT,
                   reader: str = "this renderd") -> Marker:
        """The marker's fields; SpoolError (one line) when it is unreadable or of a newer format."""
        if len(raw) > MAX_MARKER_BYTES or not nesting_depth_ok(raw, MARKER_DEPTH):
            raise SpoolError("unreadable spool marker (too large or too deeply nested)", path)
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as err:
            raise SpoolError(f"unreadable spool marker ({str(err)[:200]})", path) from None
        fmt = data.get("format")
        if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
            raise SpoolError("spool marker has no format version", path)
        if fmt > reads_up_to:
            raise SpoolError(f"spool format {fmt} was made by a newer renderd; {reader} reads format "
                             f"{reads_up_to}: upgrade renderd on this host", path)
        by, created = data.get("created_by"), data.get("created")
        return cls(fmt, by if isinstance(by, str) else "",
                   float(created) if isinstance(created, (int, float)) and not isinstance(created, bool) else 0.0)
