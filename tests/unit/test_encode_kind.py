"""The encode chunk kind's pure parts: its fields, ffmpeg's argv, the staging of frames (a planted link
is never read through), and the frame rate read from a .blend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from render_frontend.blend_inspect import frame_rate
from renderd.errors import BadInfoFile
from renderd.format.encode_fields import validate_encode
from renderd.format.info import ChunkInfo
from renderd.kinds.blender_staging import Staging
from renderd.kinds.encode import build_argv, stage_frames

GOOD = {"frames": "shots/frames/shot_####.png", "fps": 24, "container": "mp4", "video": "shot.mp4"}


def test_fields_are_checked() -> None:
    assert validate_encode(GOOD)["fps"] == 24.0
    for bad in ({"video": "-y.mp4"}, {"video": "shot.webm"}, {"video": "a/b.mp4"}, {"frames": "../x/s_##.png"},
                {"frames": "frames/shot.png"}, {"fps": 0}, {"fps": True}, {"fps": float("inf")}, {"container": "avi"}):
        with pytest.raises(BadInfoFile):
            validate_encode({**GOOD, **bad})


def test_only_encode_chunks_carry_encode_fields() -> None:
    base = {"format": 1, "job": "j", "chunk": "j-0001", "argv": [], "start": 1, "end": 3, "step": 1}
    info = ChunkInfo.from_dict({**base, "kind": "encode", "encode": GOOD})
    assert ChunkInfo.from_bytes(info.to_bytes()).encode == validate_encode(GOOD)
    plain = ChunkInfo.from_dict({**base, "kind": "command", "argv": ["true"]})
    assert "encode" not in plain.as_dict()
    with pytest.raises(BadInfoFile, match="no 'encode'"):
        ChunkInfo.from_dict({**base, "kind": "command", "argv": ["true"], "encode": GOOD})
    with pytest.raises(BadInfoFile, match="needs its 'encode'"):
        ChunkInfo.from_dict({**base, "kind": "encode"})


def test_argv_passes_paths_as_files_never_options_or_number_patterns() -> None:
    argv = build_argv("/usr/bin/ffmpeg", Path("/s/100%:x/.renderd-c-1"), ".png", 29.97, "webm", "shot.webm")
    assert argv[0] == "/usr/bin/ffmpeg" and "-nostdin" in argv
    assert argv[argv.index("-i") + 1] == "file:/s/100%%:x/.renderd-c-1/frame_%06d.png"
    assert argv[-1] == "file:/s/100%:x/.renderd-c-1/shot.webm" and argv[-2] == "-y"
    assert argv[argv.index("-framerate") + 1] == "29.97"


def test_frames_are_staged_under_the_daemons_names_and_a_planted_link_fails(tmp_path: Path) -> None:
    out = tmp_path / "frames"
    out.mkdir()
    for n in (1, 3, 5):
        (out / f"shot_{n:04d}.png").write_bytes(b"png")
    staging = Staging(out, "j-0001", None)
    try:
        assert stage_frames(staging, "shot_####.png", [1, 3, 5]) == ".png"
        assert sorted(os.listdir(staging.path)) == ["frame_000001.png", "frame_000002.png", "frame_000003.png"]
    finally:
        staging.close()
    victim = tmp_path / "secret"
    victim.write_bytes(b"secret")
    (out / "shot_0007.png").symlink_to(victim)
    staging = Staging(out, "j-0001", None)
    try:
        with pytest.raises(OSError, match="frame 7"):
            stage_frames(staging, "shot_####.png", [5, 7])
        with pytest.raises(OSError, match="frame 9 is not rendered"):
            stage_frames(staging, "shot_####.png", [9])
    finally:
        staging.close()
    assert not any(p.name.startswith(".renderd-") for p in out.iterdir())


def test_frame_rate_from_the_blend_fields() -> None:
    assert frame_rate(24, 1.0) == 24.0 and frame_rate(30, 1.001) == pytest.approx(29.97, abs=0.001)
    assert frame_rate(25, 0) == 24.0 and frame_rate(None, 1) == 24.0
