"""`render add FILE.blend` through the real front-end: what is queued, what is refused, what is skipped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.daemons import BIN, render

BLEND = Path(__file__).parent.parent / "fixtures" / "blend"
PNG = BLEND / "textures" / "wood.png"


def place(spool: Path, name: str, as_name: str | None = None) -> Path:
    dest = spool / "shots" / (as_name or name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLEND / name, dest)
    return dest


def add(spool: Path, *args: str, check: bool = True) -> dict[str, Any]:
    out = render(spool, "add", "--json", *args, check=check)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def spans(data: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    return [(c["scene"], c["start"], c["end"], c["step"]) for c in data["chunks"]]


def queued_infos(spool: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((spool / "queue").rglob("*.info"))]


def test_dry_run_json_has_the_documented_shape_and_writes_nothing(spool: Path) -> None:
    blend = place(spool, "scenes_b34.blend")
    before = sorted(p.name for p in spool.rglob("*"))
    data = add(spool, str(blend), "--dry-run")
    assert sorted(p.name for p in spool.rglob("*")) == before
    assert set(data) == {"job", "file", "scenes", "chunks"}
    assert data["file"] == str(blend)
    assert data["scenes"] == [
        {"scene": "Main", "start": 1, "end": 12, "step": 1, "output": str(spool / "shots/render/main_####.png"),
         "engine": "CYCLES"}
    ]  # fmt: skip
    assert [set(c) for c in data["chunks"]] == [{"chunk", "scene", "start", "end", "step", "argv"}] * 2
    assert spans(data) == [("Main", 1, 10, 1), ("Main", 11, 12, 1)]
    assert data["chunks"][0]["argv"] == [
        "blender", "-b", str(blend), "-Y", "-S", "Main", "-s", "1", "-e", "10", "-j", "1", "-a",
    ]  # fmt: skip


def test_the_job_records_fields_relative_to_the_spool_not_a_command_line(spool: Path) -> None:
    blend = place(spool, "scenes_b45.blend")
    data = add(spool, str(blend), "--scene", "Alt Shot", "--frames", "20-30", "--chunk", "5", "--priority", "80")
    assert spans(data) == [("Alt Shot", 20, 29, 3)]
    (info,) = queued_infos(spool)
    assert info["kind"] == "blender" and info["argv"] == [] and info["priority"] == 80
    assert info["blender"] == {
        "file": "shots/scenes_b45.blend",
        "scene": "Alt Shot",
        "extra": [],
        "after": [],
        "trust_scripts": False,
        "version": [4, 5],
        "output": "shots/render/alt/alt_####.jpg",
        "movie": False,
    }
    manifest = json.loads((spool / "jobs" / data["job"] / "manifest.json").read_text())
    assert manifest["kind"] == "blender" and manifest["blender_version"] == "4.5"


def test_by_default_the_active_scene_and_those_flagged_for_background_rendering(spool: Path) -> None:
    blend = place(spool, "background_b34.blend")
    assert spans(add(spool, str(blend), "--dry-run")) == [
        ("Alt Shot", 10, 37, 3), ("Main", 1, 10, 1), ("Main", 11, 12, 1)]  # fmt: skip


def test_chunks_count_rendered_frames_and_end_on_the_last_one(spool: Path) -> None:
    blend = place(spool, "scenes_b50.blend")
    assert spans(add(spool, str(blend), "--scene", "Alt Shot", "--dry-run")) == [("Alt Shot", 10, 37, 3)]
    assert spans(add(spool, str(blend), "--scene", "Alt Shot", "--chunk", "4", "--dry-run")) == [
        ("Alt Shot", 10, 19, 3), ("Alt Shot", 22, 31, 3), ("Alt Shot", 34, 37, 3)]  # fmt: skip
    assert spans(add(spool, str(blend), "--scene", "Alt Shot", "--frames", "1-9:4", "--dry-run")) == [
        ("Alt Shot", 1, 9, 4)]  # fmt: skip


def test_all_scenes_warns_about_a_camera_less_scene_and_a_video(spool: Path) -> None:
    blend = place(spool, "Schöne Szene b34.blend")
    refused = render(spool, "add", str(blend), "--all-scenes", check=False)
    assert refused.returncode == 1 and "'No Camera' writes its frames to /tmp/####.png" in refused.stderr
    assert "--local-ok" in refused.stderr and not (spool / "queue").exists()  # not even the layout is made
    out = render(spool, "add", str(blend), "--all-scenes", "--local-ok", "--json")
    assert "scene 'No Camera' has no camera" in out.stderr
    assert "scene 'Movie' renders a video (FFMPEG): queued as one chunk" in out.stderr
    data = json.loads(out.stdout)
    assert ("Movie", 1, 30, 1) in spans(data)
    assert [s for s in spans(data) if s[0] == "No Camera"] == [("No Camera", 5, 7, 2)]


def test_an_unknown_scene_or_a_file_that_is_no_blend_is_one_line_and_queues_nothing(spool: Path) -> None:
    blend = place(spool, "scenes_b34.blend")
    out = render(spool, "add", str(blend), "--scene", "Nope", check=False)
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0
    assert "no scene 'Nope'" in out.stderr and "'Alt Shot'" in out.stderr
    text = spool / "shots" / "notes.blend"
    text.write_text("not a blend\n")
    out = render(spool, "add", str(text), check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == f"Error: {text}: not a .blend file (File is not a blend file)"
    assert not (spool / "queue").exists() or queued_infos(spool) == []


def test_the_same_job_twice_is_refused_unless_again_and_a_changed_file_is_new(spool: Path) -> None:
    blend = place(spool, "scenes_b34.blend")
    first = add(spool, str(blend))
    again = render(spool, "add", str(blend), check=False)
    assert again.returncode == 1 and f"added before as job {first['job']}" in again.stderr
    assert "--again" in again.stderr
    second = add(spool, str(blend), "--again")
    assert second["job"] == first["job"] + ".2"
    other_range = add(spool, str(blend), "--frames", "1-5")
    assert other_range["job"] != first["job"]
    shutil.copy(BLEND / "scenes_b34_zstd.blend", blend)  # the same scenes, different bytes
    assert add(spool, str(blend))["job"] not in (first["job"], second["job"])


def test_a_blend_outside_the_spool_needs_a_shared_root_or_local_ok(spool: Path, tmp_path: Path) -> None:
    project = tmp_path / "projects"
    project.mkdir()
    blend = project / "shot.blend"
    shutil.copy(BLEND / "scenes_b34.blend", blend)
    out = render(spool, "add", str(blend), check=False)
    assert out.returncode == 1 and "outside the spool" in out.stderr and "other hosts cannot see it" in out.stderr
    data = add(spool, str(blend), "--shared-root", str(tmp_path))
    assert queued_infos(spool)[0]["blender"]["file"] == str(blend)
    assert queued_infos(spool)[0]["blender"]["output"] == str(project / "render" / "main_####.png")
    assert data["file"] == str(blend)
    out = render(spool, "add", str(blend), "--local-ok", "--again", "--json")
    assert "only hosts that see it" in out.stderr


def test_missing_dependencies_warn_and_strict_refuses(spool: Path) -> None:
    blend = place(spool, "deps_b34.blend")
    place(spool, "lib_b34.blend")
    out = render(spool, "add", str(blend), "--strict", check=False)
    assert out.returncode == 1 and "missing dependencies" in out.stderr
    assert "gone_b34.blend" in out.stderr and "missing.png" in out.stderr and "lib_b34" not in out.stderr
    assert not (spool / "queue").exists() or queued_infos(spool) == []
    out = render(spool, "add", str(blend), "--json")
    assert out.returncode == 0 and "Warning:" in out.stderr and "gone_b34.blend" in out.stderr
    assert len(queued_infos(spool)) == 1


def test_blender_arguments_after_dashdash(spool: Path) -> None:
    blend = place(spool, "scenes_b34.blend")
    data = add(spool, str(blend), "--dry-run", "--", "-t", "2", "--cycles-device", "CPU")
    assert data["chunks"][0]["argv"][-6:] == ["-t", "2", "-a", "--", "--cycles-device", "CPU"]
    out = render(spool, "add", str(blend), "--", "--python", "rig.py", check=False)
    assert out.returncode == 1 and "runs code" in out.stderr and "--trust-scripts" in out.stderr
    out = render(spool, "add", str(blend), "--", "-o", "/home/me/", check=False)
    assert out.returncode == 1 and "-o is not allowed" in out.stderr
    add(spool, str(blend), "--trust-scripts", "--", "-y", "--python", "rig.py")
    for info in queued_infos(spool):
        assert info["blender"]["trust_scripts"] is True and info["blender"]["extra"] == ["-y", "--python", "rig.py"]


def frames_dir(spool: Path) -> Path:
    path = spool / "shots" / "render"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_frame(spool: Path, n: int, blend: Path, newer: bool, data: bytes | None = None) -> None:
    path = frames_dir(spool) / f"main_{n:04d}.png"
    path.write_bytes(PNG.read_bytes() if data is None else data)
    t = blend.stat().st_mtime_ns + (10**9 if newer else -(10**9))
    os.utime(path, ns=(t, t))


def test_frames_rendered_after_the_blend_was_saved_are_skipped(spool: Path) -> None:
    blend = place(spool, "scenes_b34.blend")
    for n in (1, 2, 3, 4, 8):
        write_frame(spool, n, blend, newer=True)
    write_frame(spool, 5, blend, newer=False)  # rendered before the last save: render again
    write_frame(spool, 6, blend, newer=True, data=b"")  # a placeholder is not a frame
    write_frame(spool, 7, blend, newer=True, data=PNG.read_bytes()[:20])  # nor is half a file
    out = render(spool, "add", str(blend), "--json")
    assert spans(json.loads(out.stdout)) == [("Main", 5, 7, 1), ("Main", 9, 12, 1)]
    assert "5 frame(s) already rendered are skipped" in out.stderr


@pytest.mark.parametrize(("flag", "expected"), [
    ("--overwrite", [("Main", 1, 10, 1), ("Main", 11, 12, 1)]),
    ("--skip-existing", [("Main", 3, 12, 1)]),
])  # fmt: skip
def test_overwrite_renders_all_and_skip_existing_skips_old_frames_too(
    spool: Path, flag: str, expected: list[tuple[str, int, int, int]]
) -> None:
    blend = place(spool, "scenes_b34.blend")
    write_frame(spool, 1, blend, newer=False)
    write_frame(spool, 2, blend, newer=True)
    write_frame(spool, 3, blend, newer=True, data=b"")
    assert spans(add(spool, str(blend), flag, "--dry-run")) == expected


def test_nothing_to_render_queues_nothing(spool: Path) -> None:
    blend = place(spool, "scenes_b34.blend")
    for n in range(1, 13):
        write_frame(spool, n, blend, newer=True)
    out = render(spool, "add", str(blend), "--json")
    assert out.returncode == 0 and "nothing to render: all 12 frame(s)" in out.stderr
    assert json.loads(out.stdout)["job"] is None
    assert not (spool / "jobs").exists() or list((spool / "jobs").iterdir()) == []


def test_command_only_options_are_refused_for_a_blend_job(spool: Path) -> None:
    blend = place(spool, "scenes_b34.blend")
    out = render(spool, "add", str(blend), "--cwd", str(spool), check=False)
    assert out.returncode == 2 and "--cwd: only for a command job" in out.stderr


def test_blend_only_options_are_refused_for_a_command_job_whose_json_is_unchanged(spool: Path) -> None:
    out = render(spool, "add", "--frames", "1-3", "--scene", "Main", "--", "true", check=False)
    assert out.returncode == 2 and "--scene: only for a .blend job" in out.stderr
    data = json.loads(render(spool, "add", "--frames", "1-3", "--json", "--", "echo", "{start}").stdout)
    assert set(data) == {"job", "chunks"}
    assert data["chunks"] == [{"chunk": data["job"] + "-0001", "start": 1, "end": 3, "step": 1, "argv": ["echo", "1"]}]


def test_shared_roots_from_the_environment(spool: Path, tmp_path: Path) -> None:
    project = tmp_path / "projects"
    project.mkdir()
    shutil.copy(BLEND / "scenes_b34.blend", project / "shot.blend")
    env = {**os.environ, "RENDERD_SHARED_ROOTS": f"/nowhere:{project}"}
    out = subprocess.run(
        [str(BIN / "render"), "--spool", str(spool), "add", str(project / "shot.blend"), "--dry-run"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "would queue 2 chunk(s)" in out.stderr and "Warning" not in out.stderr


def test_two_identical_adds_at_once_queue_one_job(spool: Path) -> None:
    blend = place(spool, "scenes_b34.blend")
    render(spool, "add", str(blend), "--frames", "1-2", "--dry-run")  # sets nothing up
    cmd = [str(BIN / "render"), "--spool", str(spool), "add", str(blend)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    codes = sorted(p.wait(120) for p in procs)
    for p in procs:
        p.communicate()
    assert codes == [0, 1, 1, 1]
    assert len(list((spool / "jobs").iterdir())) == 1
    assert len(queued_infos(spool)) == 2
