"""Where a Blender chunk writes: a staging folder of the daemon's own, renamed into place.

Blender opens its frame paths itself and follows whatever it finds there, so a frame path
planted as a symlink (`render/shot_0001.png -> someone's file`) made the daemon's Blender
overwrite that file (issue 10, finding 6).  So each run renders into a folder this daemon
made, beside the output folder (same file system, so a rename is atomic):

    <output folder>/.renderd-<chunk>-<nonce>/      mode 0700, made with mkdir (never follows a link)

and each finished frame is renamed from there into place, through open folder descriptors:
a rename replaces a planted symlink instead of following it, and no reader ever sees half a
frame.  Only frames Blender said it finished (`Saved:` lines), or every frame after it exited
0, are moved; the folder is removed after every run, and a note in the daemon's own state
folder lets the next start remove what a killed daemon left behind.

Overwrite off and placeholders keep their meaning: for each frame whose file already exists
in the output folder, an empty file is put in the staging folder first, so Blender (with
Overwrite off) skips that frame as it would have; an empty file is never moved into place.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = ".renderd-"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_UNNOTED: set[Path] = set()


def notes_dir(spool_key: str, daemon_name: str) -> Path:
    """This daemon's own notes of staging folders in use: local, never in the spool (whatever a
    spool file said could point the clean-up at anyone's folder)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "renderd" / "staging" / f"{spool_key}-{daemon_name}"


def clean_leftovers(notes: Path) -> int:
    """Remove the staging folders a killed run of this daemon left; returns how many."""
    try:
        names = os.listdir(notes)
    except OSError:
        return 0
    removed = 0
    for name in names:
        note = notes / name
        try:
            target = Path(note.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            target = None
        if target is not None and target.name.startswith(PREFIX) and _own_folder(target):
            shutil.rmtree(target, ignore_errors=True)  # fd-based on Linux: does not follow links inside
            removed += 1
            log.info("removed the staging folder %s left by an earlier run", target)
        note.unlink(missing_ok=True)
    return removed


def _own_folder(path: Path) -> bool:
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


class Staging:
    """One run's staging folder; `move` and `close` may be called from two threads."""

    def __init__(self, outdir: Path, chunk: str, notes: Path | None, spool_root: Path | None = None) -> None:
        """`spool_root`: the output folder lies in the spool, so no folder below the root may be a link."""
        self.outdir = outdir
        self.name = f"{PREFIX}{chunk}-{secrets.token_hex(4)}"
        self.path = outdir / self.name
        self._lock = threading.Lock()
        self._moved: set[str] = set()
        self._note: Path | None = None
        self.out_fd = _open_outdir(outdir) if spool_root is None else _walk_outdir(spool_root, outdir)
        try:
            if notes is not None:
                self._note = _write_note(notes, self.name, self.path)
            os.mkdir(self.name, 0o700, dir_fd=self.out_fd)
            self.fd = os.open(self.name, DIR_FLAGS, dir_fd=self.out_fd)
        except OSError:
            self._drop_note()
            os.close(self.out_fd)
            raise

    def mark_existing(self, names: Iterable[str]) -> None:
        """An empty file here for each frame whose file exists in the output folder (see above)."""
        for name in names:
            try:
                st = os.stat(name, dir_fd=self.out_fd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                             dir_fd=self.fd)
                os.close(fd)

    def final_path(self, saved: str) -> str:
        """A path Blender printed, as readers see it once moved (others unchanged)."""
        head, sep, name = saved.rpartition("/")
        return str(self.outdir / name) if sep and head == str(self.path) else saved

    def move(self, name: str) -> bool:
        """Rename one finished file (a non-empty regular file) from here into place."""
        with self._lock:
            if name in self._moved or self.fd < 0:
                return name in self._moved
            try:
                st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
                    return False
                os.rename(name, name, src_dir_fd=self.fd, dst_dir_fd=self.out_fd)
            except OSError as err:
                if not isinstance(err, FileNotFoundError):
                    log.warning("cannot move %s/%s into place: %s", self.path, name, err.strerror)
                return False
            self._moved.add(name)
            return True

    def move_saved(self, saved: Sequence[str]) -> None:
        for path in saved:
            head, sep, name = path.rpartition("/")
            if sep and head == str(self.path):
                self.move(name)

    def names(self) -> list[str]:
        try:
            return os.listdir(self.fd)
        except OSError:
            return []

    def close(self) -> None:
        """Remove the folder and what is left in it (markers, a frame cut short), and the note."""
        with self._lock:
            if self.fd < 0:
                return
            try:
                if self._still_in_place():
                    shutil.rmtree(self.name, dir_fd=self.out_fd)  # fd-based: no link inside is followed
                else:  # what now has our name is someone else's: empty our own folder, wherever it went
                    log.warning("the staging folder %s was renamed or replaced during the run: frames Blender "
                                "wrote after that are not ours and are not moved", self.path)
                    for name in os.listdir(self.fd):
                        os.unlink(name, dir_fd=self.fd)
            except OSError as err:
                log.warning("cannot remove the staging folder %s: %s", self.path, err)
            os.close(self.fd)
            self.fd = -1
            os.close(self.out_fd)
            self._drop_note()

    def _still_in_place(self) -> bool:
        try:
            here = os.stat(self.name, dir_fd=self.out_fd, follow_symlinks=False)
        except OSError:
            return False
        ours = os.fstat(self.fd)
        return (here.st_dev, here.st_ino) == (ours.st_dev, ours.st_ino)

    def _drop_note(self) -> None:
        if self._note is not None:
            self._note.unlink(missing_ok=True)
            self._note = None


def _open_outdir(outdir: Path) -> int:
    """The output folder, made if missing (Blender would make it), never through a symlink at
    its last component."""
    try:
        return os.open(outdir, DIR_FLAGS)
    except FileNotFoundError:
        os.makedirs(outdir, exist_ok=True)
        return os.open(outdir, DIR_FLAGS)


def _walk_outdir(root: Path, outdir: Path) -> int:
    """An output folder inside the spool, walked from the root one folder at a time without
    following a link anywhere below it (a planted `shots -> someone's folder` is refused), and
    made where missing (Blender would make it)."""
    parts = outdir.relative_to(root).parts
    if any(p in ("..", ".") for p in parts):
        raise OSError(errno.EINVAL, f"{outdir} is not a plain path inside the spool")
    fd = os.open(root, DIR_FLAGS & ~os.O_NOFOLLOW)  # the root's own path may be a link (the admin's mount)
    try:
        for part in parts:
            try:
                nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_note(notes: Path, name: str, target: Path) -> Path | None:
    """Note a staging folder for the clean-up after a crash; without a writable state folder
    (a daemon user with no home) the run goes on, and only that clean-up is lost."""
    try:
        notes.mkdir(parents=True, exist_ok=True, mode=0o700)
        note = notes / name
        tmp = notes / f".{name}.tmp"
        tmp.write_text(f"{target}\n", encoding="utf-8")
        os.replace(tmp, note)
    except OSError as err:
        if notes not in _UNNOTED:  # once per folder: a homeless daemon would say it for every chunk
            _UNNOTED.add(notes)
            log.warning("cannot note staging folders in %s (%s): a crash would leave them behind",
                        notes, err.strerror)
        return None
    return note
