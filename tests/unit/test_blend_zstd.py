"""Zstd .blend files read through their seek table: the same scenes, fewer bytes unpacked, no crash on lies."""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from render_frontend.blend_inspect import BlendError, inspect
from render_frontend.zstd_frames import NotSeekable, ZstdFrames

BLEND = Path(__file__).parent.parent / "fixtures" / "blend"
PLAIN = (BLEND / "scenes_b34.blend").read_bytes()


def seekable(data: bytes, frame: int = 4096) -> bytes:
    """Compress like Blender does: independent frames, then a skippable frame with the seek table."""
    cctx = zstandard.ZstdCompressor(write_content_size=True)
    frames = [cctx.compress(data[i : i + frame]) for i in range(0, len(data), frame)]
    table = b"".join(struct.pack("<II", len(f), min(frame, len(data) - i * frame)) for i, f in enumerate(frames))
    footer = struct.pack("<IBI", len(frames), 0, 0x8F92EAB1)
    return b"".join(frames) + struct.pack("<II", 0x184D2A5E, len(table) + len(footer)) + table + footer


def scenes(path: Path) -> list[tuple[str, int, int, int, str]]:
    return [(s.name, s.start, s.end, s.step, s.output) for s in inspect(path).scenes]


@pytest.mark.parametrize("name", ["scenes_b34_zstd.blend", "scenes_b45_zstd.blend", "scenes_b50_zstd.blend"])
def test_blenders_own_zstd_files_have_a_seek_table_and_read_the_same(name: str) -> None:
    frames = ZstdFrames(BLEND / name)
    with io.BufferedReader(frames) as reader:  # as BAT reads it
        whole = zstandard.ZstdDecompressor().stream_reader((BLEND / name).read_bytes()).read()
        assert frames.size == len(whole)
        rng = random.Random(4)
        for _ in range(50):
            at = rng.randrange(frames.size)
            reader.seek(at)
            n = rng.randrange(1, 5000)
            assert reader.read(n) == whole[at : at + n]


def test_a_scene_list_unpacks_only_the_frames_it_reads(tmp_path: Path) -> None:
    padded = tmp_path / "padded.blend"
    padded.write_bytes(seekable(PLAIN))
    assert scenes(padded) == scenes(BLEND / "scenes_b34.blend")
    reader = ZstdFrames(padded)
    try:
        reader.read(12)
        reader.seek(-4096, os.SEEK_END)
        reader.read(4096)
        assert reader.unpacked <= 3 * 4096 < reader.size
    finally:
        reader.close()


def test_files_without_a_seek_table_are_not_for_it(tmp_path: Path) -> None:
    for data in (PLAIN, zstandard.ZstdCompressor().compress(PLAIN), b"", b"\x28\xb5\x2f\xfd"):
        path = tmp_path / "x.blend"
        path.write_bytes(data)
        with pytest.raises(NotSeekable):
            ZstdFrames(path)
    one_frame = tmp_path / "one.blend"
    one_frame.write_bytes(zstandard.ZstdCompressor().compress(PLAIN))
    assert scenes(one_frame) == scenes(BLEND / "scenes_b34.blend")  # BAT unpacks it whole


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 200), st.binary(min_size=1, max_size=8))
def test_a_lying_seek_table_is_an_error_or_the_right_answer_never_a_crash(offset: int, junk: bytes) -> None:
    data = bytearray(seekable(PLAIN))
    at = len(data) - 1 - offset
    data[at : at + len(junk)] = junk
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lie.blend"
        path.write_bytes(bytes(data))
        try:
            result = scenes(path)
        except BlendError:
            return
        assert result == scenes(BLEND / "scenes_b34.blend")


def test_a_file_whose_structure_claims_gigabytes_is_one_error_not_the_machines_memory(tmp_path: Path) -> None:
    """Found by the property test above: one zeroed byte in the seek table made BAT allocate 24 GB
    (the kernel's OOM killer ended the test run).  Reading is capped; the file is one clear error.

    Run in a fresh interpreter, as `render add` is: the cap is on the whole process's address
    space, and pytest's process (its threads' malloc arenas, finalizers of earlier tests) is not
    what the cap is sized for."""
    data = bytearray(seekable(PLAIN))
    data[len(data) - 1 - 163] = 0
    path = tmp_path / "bomb.blend"
    path.write_bytes(bytes(data))
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from render_frontend.blend_inspect import BlendError, inspect\n"
        "before = resource.getrlimit(resource.RLIMIT_AS)\n"
        "try:\n"
        "    inspect(Path(sys.argv[1]))\n"
        "except BlendError as err:\n"
        "    assert resource.getrlimit(resource.RLIMIT_AS) == before\n"
        "    print(err)\n"
        "    sys.exit(3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert str(path) in proc.stdout
