"""The `encode` chunk kind: a scene's rendered frames into one video beside them, with ffmpeg.

`render add shot.blend --encode mp4` queues it as a job of its own that waits for the frames'
job (docs/scheduling.md).  Like a Blender chunk it holds fields, never a command line
(renderd/format/encode_fields.py), and the daemon builds ffmpeg's argv itself:

- ffmpeg is this host's, found once when the daemon starts (its own PATH, an absolute path,
  `ffmpeg -version` must run); a host without it leaves encode chunks to others;
- each frame is hard-linked (or, across owners, copied) into the daemon's own staging folder
  (kinds/blender_staging.py) as `frame_000001.png`, ...: a frame that is a symbolic link, a FIFO
  or missing fails the chunk, and ffmpeg reads only the daemon's names;
- every path is passed as `file:/absolute/path` (never read as an option or a protocol), with
  `%` doubled where the image sequence reader would take it for a number;
- the video is written in the staging folder and renamed into place, so a link planted at the
  video's name is replaced, not followed, and no reader sees half a video.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from renderd.errors import BadInfoFile
from renderd.format.encode_fields import check_range, validate_encode
from renderd.format.info import ChunkInfo
from renderd.kinds.base import Capabilities
from renderd.kinds.blender import BlenderLaunch, frame_file, on_this_host
from renderd.kinds.blender_staging import Staging
from renderd.kinds.blender_version import resolve_program
from renderd.spool import Spool

log = logging.getLogger(__name__)

CODECS = {"mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
          "mov": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
          "webm": ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-b:v", "0", "-crf", "32"]}
EVEN = "scale=trunc(iw/2)*2:trunc(ih/2)*2"  # yuv420p needs even sizes; a 3x3 test frame would fail
FRAME_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
COPY_CHUNK = 1 << 20


def host_ffmpeg(name: str = "ffmpeg") -> tuple[str | None, str | None]:
    """(absolute program, its version line) of this host's ffmpeg; (None, None) when none runs.
    Logs one line saying why there is none (the daemon then leaves encode chunks to others)."""
    program = resolve_program(name)
    if program is None:
        log.info("no ffmpeg on this daemon's PATH: this host leaves encode chunks to others")
        return None, None
    try:
        out = subprocess.run([program, "-hide_banner", "-version"], capture_output=True, text=True, timeout=60,
                             check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as err:
        log.warning("cannot run %s -version (%s): this host leaves encode chunks to others", program, err)
        return None, None
    first = out.stdout.splitlines()[0] if out.stdout.strip() else ""
    if out.returncode != 0 or not first.startswith("ffmpeg version"):
        log.warning("%s -version did not say it is ffmpeg: this host leaves encode chunks to others", program)
        return None, None
    return program, first.split()[2] if len(first.split()) > 2 else "?"


def build_argv(ffmpeg: str, staging: Path, ext: str, fps: float, container: str, video: str) -> list[str]:
    """ffmpeg's command line for frames `staging/frame_%06d<ext>` (numbered from 1) into `staging/video`."""
    frames = "file:" + str(staging).replace("%", "%%") + f"/frame_%06d{ext}"
    return [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "warning", "-f", "image2",
            "-framerate", f"{fps:.6g}", "-start_number", "1", "-i", frames, "-vf", EVEN, *CODECS[container],
            "-y", f"file:{staging}/{video}"]


def stage_frames(staging: Staging, pattern_name: str, frames: list[int]) -> str:
    """Link (or copy) each frame into the staging folder as frame_000001<ext>, ...; the extension."""
    ext = Path(pattern_name).suffix if "." in pattern_name.rsplit("#", 1)[-1] else ""
    for n, frame in enumerate(frames, start=1):
        name = frame_file(pattern_name, frame)
        staged = f"frame_{n:06d}{ext}"
        try:
            os.link(name, staged, src_dir_fd=staging.out_fd, dst_dir_fd=staging.fd, follow_symlinks=False)
        except FileNotFoundError:
            raise OSError(errno.ENOENT, f"frame {frame} is not rendered ({staging.outdir / name} is missing)") from None
        except OSError:
            _copy(staging, name, staged, frame)  # another owner's file (protected_hardlinks) or another file system
        st = os.stat(staged, dir_fd=staging.fd, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            raise OSError(errno.EINVAL, f"frame {frame} ({staging.outdir / name}) is not a rendered file")
    return ext


def _copy(staging: Staging, name: str, staged: str, frame: int) -> None:
    try:
        src = os.open(name, FRAME_FLAGS, dir_fd=staging.out_fd)
    except OSError as err:
        what = "a symbolic link" if err.errno == errno.ELOOP else err.strerror
        raise OSError(err.errno, f"frame {frame} ({staging.outdir / name}): {what}") from None
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):
            raise OSError(errno.EINVAL, f"frame {frame} ({staging.outdir / name}) is not a regular file")
        dst = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                      dir_fd=staging.fd)
        try:
            while chunk := os.read(src, COPY_CHUNK):
                os.write(dst, chunk)
        finally:
            os.close(dst)
    finally:
        os.close(src)


class EncodeKind:
    def refuse(self, info: ChunkInfo, caps: Capabilities) -> str | None:
        if caps.ffmpeg is None:
            return "this host has no ffmpeg"
        return None

    def launch(self, info: ChunkInfo, spool: Spool, caps: Capabilities, notes: Path | None) -> BlenderLaunch:
        fields = _fields(info)
        if caps.ffmpeg is None or not os.path.isabs(caps.ffmpeg):
            raise OSError(errno.ENOENT, "no ffmpeg found on this host")
        pattern = on_this_host(spool.root, fields["frames"])
        inside = None if fields["frames"].startswith("/") else Path(os.path.abspath(spool.root))
        staging = Staging(pattern.parent, info.chunk, notes, inside)
        try:
            ext = stage_frames(staging, pattern.name, info.frames)
            argv = build_argv(caps.ffmpeg, staging.path, ext, fields["fps"], fields["container"], fields["video"])
        except BaseException:
            staging.close()
            raise
        return BlenderLaunch(argv, staging, [fields["video"]])

    def check_result(self, info: ChunkInfo, spool: Spool, log_path: Path) -> str | None:
        fields = _fields(info)
        video = on_this_host(spool.root, fields["frames"]).parent / fields["video"]
        try:
            st = os.lstat(video)
        except OSError as err:
            return f"ffmpeg exited 0 but made no video ({video}: {err.strerror})"
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return f"ffmpeg exited 0 but {video} is not a video file"
        return None


def _fields(info: ChunkInfo) -> dict[str, Any]:
    if info.encode is None:
        raise BadInfoFile("an encode chunk needs its 'encode' fields")
    fields = validate_encode(info.encode)
    check_range(info.start, info.end)
    return fields
