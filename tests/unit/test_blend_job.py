"""Planning a Blender job: paths every host can see, Blender's extra arguments, frames still to render."""

from __future__ import annotations

from pathlib import Path

import pytest

from render_frontend.blend_inspect import BlendInfo, Scene
from render_frontend.blendjob import Request, plan, record_path, runs, split_extra
from renderd.errors import UsageError
from renderd.spool import Spool


def test_consecutive_frames_at_the_step_make_one_run() -> None:
    assert runs([1, 2, 3, 5, 6, 9], 1) == [(1, 3), (5, 6), (9, 9)]
    assert runs([10, 13, 19, 22], 3) == [(10, 13), (19, 22)]
    assert runs([], 1) == []


def test_extra_words_go_before_a_and_cycles_options_after_blenders_dashdash() -> None:
    assert split_extra(["-t", "2"]) == (["-t", "2"], [])
    assert split_extra(["--cycles-device", "CPU", "-t", "2"]) == (["-t", "2"], ["--cycles-device", "CPU"])
    assert split_extra(["--cycles-device=OPTIX"]) == ([], ["--cycles-device=OPTIX"])
    assert split_extra(["-t", "2", "--", "--my-addon", "x"]) == (["-t", "2"], ["--my-addon", "x"])


def test_paths_inside_the_spool_are_recorded_relative_to_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (tmp_path / "spool" / "shots").mkdir(parents=True)
    blend = tmp_path / "spool" / "shots" / "a.blend"
    blend.touch()
    assert record_path(blend, spool, [], False, "file") == "shots/a.blend"
    link = tmp_path / "link.blend"
    link.symlink_to(blend)
    assert record_path(link, spool, [], False, "file") == "shots/a.blend"


def test_paths_outside_need_a_shared_root_or_local_ok(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (tmp_path / "spool").mkdir()
    (tmp_path / "projects").mkdir()
    blend = tmp_path / "projects" / "a.blend"
    blend.touch()
    with pytest.raises(UsageError, match=r"other hosts cannot see it.*--shared-root.*--local-ok"):
        record_path(blend, spool, [], False, "the .blend file")
    assert record_path(blend, spool, [tmp_path / "projects"], False, "file") == str(blend)
    assert record_path(blend, spool, [], True, "file") == str(blend)
    sibling = tmp_path / "spool-other" / "a.blend"  # a prefix of the spool's name is not inside it
    sibling.parent.mkdir()
    sibling.touch()
    with pytest.raises(UsageError):
        record_path(sibling, spool, [], False, "file")


def test_a_scene_the_daemons_would_quarantine_is_refused_before_queueing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (tmp_path / "spool").mkdir()
    blend = tmp_path / "spool" / "a.blend"
    blend.write_bytes(b"BLENDER")
    name = "two\nlines"
    scene = Scene(name, 1, 3, 1, "//f_", str(tmp_path / "spool" / "f_####.png"), "PNG", False, "CYCLES", (4, 4),
                  100, True, True)  # fmt: skip
    info = BlendInfo(blend, (3, 4), False, [scene], [name])
    with pytest.raises(UsageError, match=r"scene 'two\\nlines' cannot be queued: .*scene name"):
        plan(info, spool, Request())


def test_two_scenes_writing_the_same_files_are_warned_about(tmp_path: Path) -> None:
    (tmp_path / "spool").mkdir()
    blend = tmp_path / "spool" / "a.blend"
    blend.write_bytes(b"BLENDER")
    out = str(tmp_path / "spool" / "f_####.png")
    one = Scene("One", 1, 3, 1, "//f_", out, "PNG", False, "CYCLES", (4, 4), 100, True, True)
    two = Scene("Two", 1, 3, 1, "//f_", out, "PNG", False, "CYCLES", (4, 4), 100, True, True)
    result = plan(
        BlendInfo(blend, (3, 4), False, [one, two], ["One"]), Spool(tmp_path / "spool"), Request(all_scenes=True)
    )
    assert f"scenes 'One' and 'Two' write to the same files ({out})" in result.warnings
    assert [p.output for p in result.scenes] == ["f_####.png", "f_####.png"]
