"""Opening a folder as a spool: the marker (format version) and laying the folder out.

Any folder can become a spool (it may already hold shots and textures): `render add` and
`renderd` lay it out on first use; read-only commands never create anything.  The marker is
created with O_EXCL, so two hosts setting it up at once agree, and read through the I/O layer,
so a FIFO planted as the marker cannot hang every `render`.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from pathlib import Path

from renderd import __version__
from renderd.errors import SpoolError
from renderd.format import FORMAT
from renderd.format.info import now
from renderd.format.marker import MAX_MARKER_BYTES, Marker
from renderd.spool.layout import MARKER
from renderd.spool.moves import Moves


class Spool(Moves):
    """A spool folder.  `Spool.open(path)` checks the marker; `create=True` lays it out."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.created_layout = False

    @classmethod
    def open(cls, path: str | Path, create: bool = False) -> Spool:
        root = Path(path).expanduser().absolute()
        if not root.is_dir():
            raise SpoolError("spool folder does not exist (is the share mounted?)", root)
        spool = cls(root)
        marker = root / MARKER
        if not marker.exists():
            if not create:
                raise SpoolError(f"not a renderd spool (no {MARKER}); `render add` or `renderd` sets it up", root)
            spool._create_marker()
        spool._check_marker()
        if create:
            spool.repair_layout()
        return spool

    def _create_marker(self) -> None:
        """Write the marker whole under a private name, then link it into place: a second host
        setting the spool up at the same moment sees either no marker or the whole one (with a
        plain O_EXCL create it could read the file empty, between the create and the write)."""
        marker = Marker(FORMAT, f"renderd {__version__} on {socket.gethostname()}", now())
        private = self.root / f".{MARKER}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(marker.to_text())
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(private, self.root / MARKER)
            except FileExistsError:
                return  # someone else set it up at the same moment
            except OSError:  # a file system without hard links: O_EXCL, and readers wait out the write
                self._create_marker_in_place(marker)
                return
            self.created_layout = True
        finally:
            try:
                os.unlink(private)
            except FileNotFoundError:
                pass

    def _create_marker_in_place(self, marker: Marker) -> None:
        try:
            fd = os.open(self.root / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as fh:
            fh.write(marker.to_text())
        self.created_layout = True

    def _check_marker(self) -> None:
        marker = self.root / MARKER
        deadline = time.monotonic() + 2.0
        while True:
            try:
                raw = self.io.read(marker, MAX_MARKER_BYTES)
            except OSError as err:
                raise SpoolError(f"unreadable spool marker ({err})", marker) from None
            if raw or time.monotonic() > deadline:  # empty: another host is writing it in place
                break
            time.sleep(0.05)
        Marker.from_bytes(raw, marker, reader=f"this renderd {__version__}")
