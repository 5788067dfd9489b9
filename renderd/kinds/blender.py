"""The `blender` chunk kind: validated fields in, `blender -b FILE -Y -S SCENE ... -a` out.

A Blender chunk stores fields (renderd/format/blender_fields.py), never a command line; this
daemon builds the command itself, with its own Blender (an absolute path found at start) and
its own mount of the spool.  Nothing from the spool reaches Blender where it could read as an
option: the fields refuse values starting with `-`, and the .blend and the output are passed
as absolute paths.  Each run renders into a staging folder of the daemon's own
(kinds/blender_staging.py), from which finished frames are renamed into place.

Success is judged here, not by Blender's exit code: Blender exits 0 when `-S` names no such
scene (it renders the active scene instead) and when it skipped frames that exist
(Overwrite off), so a chunk succeeded only if Blender switched to the scene and every
frame it was to render exists afterwards, complete, a real file (not a link) and newer than
the .blend.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd.errors import BadInfoFile
from renderd.format.blender_fields import HASHES_RE, PYTHON_RUNNERS, check_frames, validate_fields
from renderd.format.info import ChunkInfo
from renderd.kinds.base import Capabilities
from renderd.kinds.blender_staging import Staging
from renderd.kinds.blender_version import version_tuple
from renderd.kinds.blender_warm import WarmSpec, warm_spec
from renderd.kinds.devices import device_args
from renderd.spool import Spool

LOG5_PREFIX = r"(?:\d+:)?\d+:\d+(?:\.\d+)?\s+[\w.]+\s+\|\s?"
LOG_LIMIT = 8 * 1024 * 1024

# Image formats whose files end in a known trailer: a frame cut short is not done.
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
JPEG_END = b"\xff\xd9"


# --------------------------------------------------------------------------- paths


def on_this_host(spool_root: Path, path: str) -> Path:
    """A recorded path as this host sees it: relative ones against its own mount of the spool."""
    return Path(path) if path.startswith("/") else Path(os.path.abspath(spool_root)) / path


def _split_last_hashes(pattern: str) -> tuple[str, int, str] | None:
    """`dir/shot_####.png` -> ('dir/shot_', 4, '.png'): the last run of `#` in the file name."""
    head, sep, name = pattern.rpartition("/")
    runs = list(HASHES_RE.finditer(name))
    if not runs:
        return None
    run = runs[-1]
    return f"{head}{sep}{name[: run.start()]}", run.end() - run.start(), name[run.end() :]


def frame_file(pattern: str, frame: int) -> str:
    """Blender's rule: the last run of `#` in the file name becomes the zero-padded frame."""
    parts = _split_last_hashes(pattern)
    if parts is None:
        return pattern
    before, width, after = parts
    number = f"-{abs(frame):0{width}d}" if frame < 0 else f"{frame:0{width}d}"
    return f"{before}{number}{after}"


def movie_stem(pattern: str, start: int, end: int) -> str:
    """A video's name: the `#` run becomes `START-END` (e.g. `movie_0001-0030` + its extension)."""
    parts = _split_last_hashes(pattern)
    if parts is None:
        return pattern
    before, width, after = parts
    return f"{before}{start:0{width}d}-{end:0{width}d}{after}"


def frame_complete(path: Path) -> bool:
    """A finished frame: a non-empty regular file (never a symlink), with its format's trailer
    where there is one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return False
        suffix = path.suffix.lower()
        trailer = PNG_END if suffix == ".png" else JPEG_END if suffix in (".jpg", ".jpeg") else b""
        if len(trailer) > st.st_size:
            return False
        return not trailer or os.pread(fd, len(trailer), st.st_size - len(trailer)) == trailer
    finally:
        os.close(fd)


def frame_problem(path: Path, newer_than_ns: int) -> str | None:
    """Why a frame file does not count as rendered (None: it does)."""
    try:
        st = path.lstat()
    except OSError:
        return "missing"
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link, not a frame"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size == 0:
        return "empty (a placeholder?)"
    if not frame_complete(path):
        return "incomplete"
    if st.st_mtime_ns < newer_than_ns:
        return "older than the .blend (skipped: Overwrite off?)"
    return None


# --------------------------------------------------------------------------- command line


def build_argv(
    blender: str, blend: str, fields: Mapping[str, Any], start: int, end: int, step: int, output: str | None = None,
    device: str | None = None,
) -> list[str]:
    """Blender's command line; `output` (the staging folder's pattern) is passed as `-o` after `-S`
    (Blender applies `-o` to the scene chosen before it); `device` (the daemon's `--device` for
    the slot) runs our device script after the file is loaded (kinds/devices.py)."""
    argv = [blender, "-b", blend, "-Y", *(device_args(device) if device else []), "-S", fields["scene"]]
    if output is not None:
        argv += ["-o", output]
    argv += ["-s", str(start), "-e", str(end), "-j", str(step)]
    extra = list(fields["extra"])
    if any(word.split("=", 1)[0] in PYTHON_RUNNERS for word in extra) and "--python-exit-code" not in extra:
        extra = ["--python-exit-code", "1", *extra]  # else a failing script still exits 0
    argv += [*extra, "-a"]
    if fields["after"]:
        argv += ["--", *fields["after"]]
    return argv


# --------------------------------------------------------------------------- the kind


def refusal(need: Sequence[int] | None, trust_scripts: bool, have: str | None, allow_scripts: bool) -> str | None:
    """Why a host with Blender `have` must leave a job saved by Blender `need` (None: it may run it)."""
    have_tuple = version_tuple(have)
    if have_tuple is None:
        return "this host has no working Blender"
    if need is not None and tuple(need) > have_tuple:
        return f"the file was saved by Blender {need[0]}.{need[1]}; this host has {have}"
    if trust_scripts and not allow_scripts:
        return "the job runs Python scripts: it needs a daemon started with --allow-scripts"
    return None


@dataclass
class BlenderLaunch:
    """One Blender run: its argv and the staging folder its frames go through."""

    argv: list[str]
    staging: Staging
    frame_names: list[str] = field(default_factory=list)  # empty for a video
    movie_prefix: str = ""
    warm: WarmSpec | None = None  # how a warm Blender renders it instead (None: cold only)

    def collect(self, saved: Sequence[str]) -> None:
        self.staging.move_saved(saved)

    def settle(self, saved: Sequence[str], exited_ok: bool) -> list[str]:
        try:
            self.staging.move_saved(saved)
            if exited_ok:  # Blender closed every file it wrote: all of them are whole
                wanted = set(self.frame_names)
                for name in self.staging.names():
                    if name in wanted or (self.movie_prefix and name.startswith(self.movie_prefix)):
                        self.staging.move(name)
        finally:
            self.staging.close()
        return [self.staging.final_path(p) for p in saved]


class BlenderKind:
    def refuse(self, info: ChunkInfo, caps: Capabilities) -> str | None:
        if caps.blender_version is None:
            return f"this host has no working Blender ({caps.blender!r})"
        fields = info.blender or {}
        return refusal(
            fields.get("version"), bool(fields.get("trust_scripts")), caps.blender_version, caps.allow_scripts
        )

    def launch(self, info: ChunkInfo, spool: Spool, caps: Capabilities, notes: Path | None) -> BlenderLaunch:
        fields = _fields(info)
        if not os.path.isabs(caps.blender):
            raise OSError(errno.ENOENT, f"no Blender program found on this host ({caps.blender!r})")
        blend = str(on_this_host(spool.root, fields["file"]))
        pattern = on_this_host(spool.root, fields["output"])
        inside = None if fields["output"].startswith("/") else Path(os.path.abspath(spool.root))
        try:
            staging = Staging(pattern.parent, info.chunk, notes, inside)
        except OSError as err:
            if err.errno == errno.ELOOP or err.errno == errno.ENOTDIR:
                what = f"the output folder {pattern.parent} or one above it is a symbolic link or not a folder"
                raise OSError(err.errno, what) from err
            raise
        try:
            if fields["movie"]:
                names: list[str] = []
                prefix = Path(movie_stem(pattern.name, info.start, info.end)).name
            else:
                names = [frame_file(pattern.name, f) for f in info.frames]
                prefix = ""
                staging.mark_existing(names)
            output = str(staging.path / pattern.name)
            argv = build_argv(caps.blender, blend, fields, info.start, info.end, info.step, output, caps.device)
            warm = warm_spec(caps.blender, blend, fields, info.start, info.end, info.step, output, caps.device)
        except BaseException:
            staging.close()
            raise
        return BlenderLaunch(argv, staging, names, prefix, warm)

    def check_result(self, info: ChunkInfo, spool: Spool, log: Path) -> str | None:
        fields = _fields(info)
        scene = fields["scene"]
        try:
            with open(log, "rb") as fh:
                text = fh.read(LOG_LIMIT).decode("utf-8", errors="replace")
        except OSError as err:
            return f"cannot read the log: {err.strerror}"
        if not scene_switched(text, scene):
            return f"Blender did not switch to scene {scene!r} (no such scene in the file?): it rendered another"
        try:
            blend_mtime = on_this_host(spool.root, fields["file"]).stat().st_mtime_ns
        except OSError as err:
            return f"cannot stat the .blend after the run: {err.strerror}"
        pattern = str(on_this_host(spool.root, fields["output"]))
        if fields["movie"]:
            return _movie_problem(pattern, info, blend_mtime)
        problems = []
        for frame in info.frames:
            path = Path(frame_file(pattern, frame))
            problem = frame_problem(path, blend_mtime)
            if problem is not None:
                problems.append(f"{frame} {problem} ({path})")
        if not problems:
            return None
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        return f"Blender exited 0 but {len(problems)} of {len(info.frames)} frame(s) are not rendered: {shown}"


def scene_switched(log_text: str, scene: str) -> bool:
    """Blender's `Scene switch for render: 'SCENE' in file: ...` line, at a line's start (Blender 5
    prefixes its log lines with a time and a channel: `00:00.100  scene  | Scene switch ...`)."""
    line = re.compile(rf"^(?:{LOG5_PREFIX})?Scene switch for render: '{re.escape(scene)}' in file:", re.MULTILINE)
    return line.search(log_text) is not None


def _fields(info: ChunkInfo) -> dict[str, Any]:
    if info.blender is None:
        raise BadInfoFile("a blender chunk needs its 'blender' fields")
    fields = validate_fields(info.blender)
    check_frames(info.start, info.end)
    return fields


def _movie_problem(pattern: str, info: ChunkInfo, newer_than_ns: int) -> str | None:
    stem = Path(movie_stem(pattern, info.start, info.end))
    try:
        names = [n for n in os.listdir(stem.parent) if n.startswith(stem.name)]
    except OSError:
        names = []
    for name in names:
        if frame_problem(stem.parent / name, newer_than_ns) is None:
            return None
    return f"Blender exited 0 but wrote no video {stem}.*"
