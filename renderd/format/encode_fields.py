"""The `encode` fields of an info file (kind `encode`, `render add shot.blend --encode mp4`).

    "encode": {"frames": "shots/frames/shot_####.png", "fps": 24.0, "container": "mp4",
               "video": "shot.mp4"}

The daemon builds ffmpeg's command line from these (renderd/kinds/encode.py), never takes one
from the spool: `frames` is the scene's frame pattern (spool-relative or absolute, as a Blender
chunk's `output`), the chunk's start/end/step the frames to encode, `video` a plain file name
written beside the frames.  No value here reaches ffmpeg where it could read as an option: the
frames are linked into the daemon's own staging folder under its own names, and every path is
passed as `file:/absolute/path`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from renderd.errors import BadInfoFile
from renderd.format.blender_fields import HASHES_RE
from renderd.format.names import valid_name

CONTAINERS = ("mp4", "mov", "webm")
MAX_PATH = 4096
MAX_FPS = 1000.0
MAX_FRAMES = 1_000_000


def validate_encode(data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields, checked; BadInfoFile says what is wrong."""
    frames = data.get("frames")
    if not isinstance(frames, str) or not frames or len(frames) > MAX_PATH or any(c in frames for c in "\0\n"):
        raise BadInfoFile("encode field 'frames' must be a path")
    if not frames.startswith("/") and any(part == ".." for part in frames.split("/")):
        raise BadInfoFile(f"encode field 'frames' escapes the spool: {frames!r}")
    if HASHES_RE.search(frames.rsplit("/", 1)[-1]) is None:
        raise BadInfoFile("encode field 'frames' needs a run of '#' for the frame number in its file name")
    fps = data.get("fps")
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not math.isfinite(fps) or not 0 < fps <= MAX_FPS:
        raise BadInfoFile(f"encode field 'fps' must be a frame rate above 0, at most {MAX_FPS:g}")
    container = data.get("container")
    if container not in CONTAINERS:
        raise BadInfoFile(f"encode field 'container' must be one of {', '.join(CONTAINERS)}")
    video = data.get("video")
    if not isinstance(video, str) or not valid_name(video) or not video.endswith(f".{container}"):
        raise BadInfoFile(f"encode field 'video' must be a plain file name ending in .{container}")
    return {"frames": frames, "fps": float(fps), "container": container, "video": video}


def check_range(start: int, end: int) -> None:
    if start < 0 or end - start >= MAX_FRAMES:
        raise BadInfoFile(f"an encode chunk's frames must be 0 or more, at most {MAX_FRAMES} ({start}-{end})")
