"""Reading scenes, ranges, outputs and dependencies from real .blend files (Blender 3.4, 4.5, 5.0)."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
from pathlib import Path

import pytest

from render_frontend.blend_inspect import BlendError, dependencies, inspect, normalise_engine, output_pattern

BLEND = Path(__file__).parent.parent / "fixtures" / "blend"
VERSIONS = {"b34": (3, 4), "b45": (4, 5), "b50": (5, 0)}


@pytest.mark.parametrize("tag", VERSIONS)
@pytest.mark.parametrize("name", ["scenes_{}.blend", "scenes_{}_zstd.blend", "Schöne Szene {}.blend"])
def test_every_scene_with_its_range_step_output_engine_and_camera(tag: str, name: str) -> None:
    path = BLEND / name.format(tag)
    info = inspect(path)
    assert info.version == VERSIONS[tag]
    assert info.compressed == (name != "scenes_{}.blend")
    by_name = {s.name: s for s in info.scenes}
    assert sorted(by_name) == ["Alt Shot", "Main", "Movie", "No Camera"]
    main, alt, nocam, movie = (by_name[n] for n in ("Main", "Alt Shot", "No Camera", "Movie"))
    assert (main.start, main.end, main.step) == (1, 12, 1)
    assert (alt.start, alt.end, alt.step) == (10, 37, 3)
    assert (nocam.start, nocam.end, nocam.step) == (5, 8, 2)
    assert main.output == "//render/main_####"
    assert main.output_pattern == str(BLEND / "render" / "main_####.png")
    assert alt.output_pattern == str(BLEND / "render" / "alt" / "alt_####.jpg")
    assert nocam.output_pattern == "/tmp/####.png"
    assert (main.file_format, alt.file_format, movie.file_format) == ("PNG", "JPEG", "FFMPEG")
    assert movie.movie and not main.movie
    assert (main.engine, alt.engine, nocam.engine) == ("CYCLES", "BLENDER_WORKBENCH", "BLENDER_EEVEE")
    assert main.resolution == (64, 36) and main.percentage == 50
    assert main.camera and alt.camera and movie.camera and not nocam.camera
    assert main.overwrite


@pytest.mark.parametrize("tag", VERSIONS)
def test_rend_block_lists_what_blender_would_render_the_active_scene(tag: str) -> None:
    assert inspect(BLEND / f"scenes_{tag}.blend").to_render == ["Main"]
    assert inspect(BLEND / f"render_{tag}.blend").to_render == ["Shot"]


@pytest.mark.parametrize("tag", VERSIONS)
def test_overwrite_off_is_seen(tag: str) -> None:
    info = inspect(BLEND / f"render_{tag}.blend")
    keep, shot = info.scene("Keep"), info.scene("Shot")
    assert keep is not None and shot is not None
    assert shot.overwrite and not keep.overwrite


def test_gzip_compressed_file_as_older_blenders_wrote_them(tmp_path: Path) -> None:
    packed = tmp_path / "old style.blend"
    packed.write_bytes(gzip.compress((BLEND / "scenes_b34.blend").read_bytes()))
    info = inspect(packed)
    assert info.compressed
    assert [s.name for s in info.scenes] == ["Alt Shot", "Main", "Movie", "No Camera"]
    assert info.scene("Main") is not None
    assert info.scene("Main").output_pattern == str(tmp_path / "render" / "main_####.png")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a .blend file"),
        (b"hello, I am a text file\n", "not a .blend file"),
        (b"BLENDER-v304RENDH\x00\x00\x00", "not a .blend file"),
        (gzip.compress(b"not a blend inside"), "not a .blend file"),
    ],
)
def test_a_file_that_is_not_a_blend_is_one_clear_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.blend"
    path.write_bytes(content)
    with pytest.raises(BlendError) as caught:
        inspect(path)
    assert str(caught.value).startswith(f"{path}: {reason}")
    assert "\n" not in str(caught.value)


def test_a_truncated_blend_is_an_error_not_a_crash(tmp_path: Path) -> None:
    data = (BLEND / "scenes_b34.blend").read_bytes()
    for size in (12, 100, 5000, len(data) // 2):
        path = tmp_path / f"cut{size}.blend"
        path.write_bytes(data[:size])
        with pytest.raises(BlendError) as caught:
            inspect(path)
        assert str(caught.value).startswith(str(path))


def test_missing_file_and_folder_are_errors_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(BlendError, match="No such file or directory"):
        inspect(tmp_path / "nowhere.blend")
    with pytest.raises(BlendError, match="not a regular file"):
        inspect(tmp_path)
    fifo = tmp_path / "pipe.blend"
    os.mkfifo(fifo)
    with pytest.raises(BlendError, match="not a regular file"):
        inspect(fifo)


@pytest.mark.parametrize("tag", VERSIONS)
def test_dependencies_report_missing_library_and_image(tag: str, tmp_path: Path) -> None:
    for name in (f"deps_{tag}.blend", f"lib_{tag}.blend"):
        shutil.copy(BLEND / name, tmp_path / name)
    (tmp_path / "textures").mkdir()
    shutil.copy(BLEND / "textures" / "wood.png", tmp_path / "textures" / "wood.png")
    deps = {(d.kind, d.path.name): d.exists for d in dependencies(tmp_path / f"deps_{tag}.blend")}
    assert deps == {
        ("image", "missing.png"): False,
        ("image", "wood.png"): True,
        ("library", f"gone_{tag}.blend"): False,
        ("library", f"lib_{tag}.blend"): True,
    }


def test_engine_names_are_normalised_across_versions() -> None:
    assert normalise_engine("BLENDER_EEVEE_NEXT") == "BLENDER_EEVEE"
    assert normalise_engine("BLENDER_WORKBENCH_NEXT") == "BLENDER_WORKBENCH"
    assert normalise_engine("CYCLES") == "CYCLES"


@pytest.mark.parametrize(
    ("pic", "extensions", "expected"),
    [
        ("//render/", (".png",), "/shots/render/####.png"),
        ("//render/f_####_x", (".png",), "/shots/render/f_####_x.png"),
        ("//a##/b", (".png",), "/shots/a##/b####.png"),  # hashes in a folder name are not the frame
        ("//../out/x.png", (".png",), "/out/x.png####.png"),
        ("//out/x_####.JPG", (".jpg", ".jpeg"), "/shots/out/x_####.JPG"),
        ("//out/x.", (".exr",), "/shots/out/x.####.exr"),
        ("/abs/path_", (), "/abs/path_####"),
        ("", (".png",), "/tmp/####.png"),
        ("relative/f_", (".png",), "relative/f_####.png"),
    ],
)
def test_output_pattern_follows_blenders_rules(pic: str, extensions: tuple[str, ...], expected: str) -> None:
    assert output_pattern(pic, Path("/shots/shot.blend"), extensions) == expected


def with_rend_block(data: bytes, scene: str, sfra: int, efra: int) -> bytes:
    """Add a REND block as Blender writes one for a scene flagged for background rendering
    (64-bit little-endian header: code, length, old address, SDNA index, count)."""
    payload = struct.pack("<ii", sfra, efra) + scene.encode().ljust(64, b"\0")
    header = struct.pack("<4siQii", b"REND", len(payload), 0x7F0000001000, 0, 1)
    end = data.rfind(b"ENDB")
    return data[:end] + header + payload + data[end:]


def test_a_scene_flagged_for_background_rendering_is_rendered_too() -> None:
    """background_b34.blend: "Alt Shot" flagged (tests/fixtures/flag_background_scene.py), saved by Blender 3.4."""
    assert inspect(BLEND / "background_b34.blend").to_render == ["Alt Shot", "Main"]


def test_rend_blocks_naming_no_scene_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "flagged.blend"
    data = with_rend_block((BLEND / "scenes_b34.blend").read_bytes(), "Alt Shot", 10, 37)
    path.write_bytes(with_rend_block(data, "Deleted Since", 1, 2))  # a name no scene has is ignored
    assert inspect(path).to_render == ["Main", "Alt Shot"]
