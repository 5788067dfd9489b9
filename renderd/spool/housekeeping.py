"""Keeping the spool's own shape: layout folders made again, plants moved aside, litter swept.

An artist can swap any layout folder for a link (`hosts -> ~victim/shot`) or plant a FIFO
where renderd writes.  Nothing goes through such a name (renderd/spool/io.py refuses it); this
module moves it to bad/ (never followed, never deleted) and makes the folder again, so one
plant costs one log line and does not stop the farm.  `render clean` asks `litter()` what it
may remove: only names renderd makes, in the real folders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from renderd.errors import BadInfoFile, SpoolError
from renderd.format.names import ROTATED_RE, nonce
from renderd.spool.base import log, warn_limited
from renderd.spool.io import UnsafeEntry
from renderd.spool.layout import ASIDE_RE, BAD_RE, LAYOUT, LOCK_RE, TMP_RE
from renderd.spool.listings import Listings

T = TypeVar("T")


class Housekeeping(Listings):
    def repair_layout(self) -> list[str]:
        """Make missing layout folders; a layout folder that is a symlink, a file or a mount is
        moved aside to bad/ (never followed, never deleted) and made again.  Returns what was
        moved, each also one warning line.  SpoolError if one stays unsafe (it cannot be moved).

        bad/ and tmp/ first: the others are moved into bad/ and their reasons written via tmp/."""
        moved, stuck = [], []
        for sub in ("bad", "tmp", *(s for s in LAYOUT if s not in ("bad", "tmp"))):
            try:
                self.io.mkdir(self.root / sub)
                continue
            except UnsafeEntry as err:
                reason = f"the spool's {sub}/ folder {err.what}"
            aside = f"{sub}.{nonce()}"
            try:
                if sub == "bad":  # nowhere safe to put it but beside itself, under a name no listing reads
                    self.io.rename(self.root / sub, self.root / f".unsafe-{aside}")
                else:
                    self.io.rename(self.root / sub, self.root / "bad" / aside)
                self.io.mkdir(self.root / sub)
                if sub != "bad":
                    self.write_atomic(self.root / "bad" / f"{aside}.reason", (reason + "\n").encode())
            except OSError as move_err:
                warn_limited.warning(f"stuck {sub}", "%s, and it cannot be moved aside: %s", reason, move_err)
                stuck.append(f"{reason} ({move_err})")
                continue
            log.warning("moved aside %s: %s", sub, reason)
            moved.append(sub)
        if stuck:
            raise SpoolError("; ".join(stuck) + ": an admin must look at it", self.root)
        return moved

    def check_layout(self) -> None:
        """Every few seconds (with the host record): a layout folder swapped for a link or a file
        since the last look is moved aside and made again.  One cached lstat per folder."""
        for sub in LAYOUT:
            try:
                self.io.check_folder(sub)
            except (UnsafeEntry, FileNotFoundError):
                self._try_repair()
                return

    def _try_repair(self) -> bool:
        """repair_layout for a running daemon: True if something was moved aside and made again."""
        try:
            return bool(self.repair_layout())
        except SpoolError:
            return False  # logged (rate-limited) by repair_layout; the caller's own error stands

    def _repairing(self, step: Callable[[], T]) -> T:
        """Run a move; if a layout folder on its way was swapped for a link (UnsafeEntry), move
        that aside, make the folder again and run it once more.  Nothing goes through the link."""
        try:
            return step()
        except UnsafeEntry:
            if not self._try_repair():
                raise
            return step()

    def move_aside(self, src: Path, reason: str) -> Path | None:
        """Move anything (a file, a planted link, FIFO or folder) to bad/ with its reason; None if
        it was gone.  Nothing is followed, nothing deleted: `render clean` sweeps bad/ later."""
        base = src.name if not src.name.startswith(".") else "_" + src.name
        # A claimed name can reach 250 characters; with '.<nonce>.reason' it must fit in 255.
        dest = self.root / "bad" / f"{base[:200]}.{nonce()}"
        try:
            self._repairing(lambda: self.io.rename(src, dest))
        except FileNotFoundError:
            return None
        self.write_atomic(dest.with_name(dest.name + ".reason"), (reason + "\n").encode())
        return dest

    def ensure_job_dir(self, job: str, sub: str, mode: int = 0o755) -> Path:
        """`jobs/<job>/<sub>`, made if missing.  A job folder (or jobs/) that is a link is
        BadInfoFile: its chunks cannot be trusted.  A `done/`, `logs/` or `cancelled/` that is a
        link is moved aside and made again, so no record or log is written outside the spool."""
        path = self.root
        for part in ("jobs", job, sub):
            path = path / part
            try:
                self.io.mkdir(path, mode)
            except UnsafeEntry as err:
                if part != sub:
                    raise BadInfoFile(err.what, path) from None
                self.move_aside(path, f"the job's {sub}/ folder {err.what}")
                warn_limited.warning("moved aside", "moved aside %s: %s", path, err.what)
                self.io.mkdir(path, mode, exist_ok=False)
        return path

    # -- render clean -----------------------------------------------------------------

    def litter(self) -> dict[str, list[Path]]:
        """What `render clean` may remove once old: rotated event logs, quarantined files (with their
        reasons), lock files and leftovers of interrupted writes in tmp/.

        Only what is provably the spool's own: names in the real layout folders (listed through
        the I/O layer, so a `bad/` or `tmp/` swapped for a link lists nothing), and only names of
        the shapes renderd makes there.  Removal goes through `remove_tree` for the same reason."""
        def own(sub: str, pattern: re.Pattern[str]) -> list[Path]:
            return [self.root / sub / n for n in self.names(self.root / sub) if pattern.match(n)]

        aside = [self.root / n for n in self.names(self.root) if ASIDE_RE.match(n)]
        return {"events": own("events", ROTATED_RE), "bad": own("bad", BAD_RE) + aside,
                "locks": own("locks", LOCK_RE), "tmp": own("tmp", TMP_RE)}

    def tree_size(self, path: Path) -> int:
        """Bytes under `path` (a file or a real folder), counted without following links."""
        return self.io.tree_size(path)

    def remove_tree(self, path: Path) -> None:
        """Remove a name of the spool and, for a real folder, all in it; links are removed, never followed."""
        self.io.remove_tree(path)
