"""The `blender` chunk kind: hostile fields, the command line it builds, who may run it, how it judges a run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderd.errors import BadInfoFile
from renderd.format.blender_fields import check_extra, validate_fields
from renderd.format.info import ChunkInfo
from renderd.kinds import KINDS, Capabilities
from renderd.kinds.blender import BlenderKind, build_argv, frame_complete, frame_file, movie_stem, scene_switched
from renderd.kinds.blender_staging import clean_leftovers
from renderd.kinds.blender_version import host_version
from renderd.spool import Spool

PNG = Path(__file__).parent.parent / "fixtures" / "blend" / "textures" / "wood.png"


def fields(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "file": "shots/a.blend",
        "scene": "Main",
        "extra": [],
        "after": [],
        "trust_scripts": False,
        "version": [3, 4],
        "output": "shots/render/main_####.png",
        "movie": False,
    }
    return base | changes


def chunk(start: int = 1, end: int = 3, **changes: Any) -> ChunkInfo:
    return ChunkInfo("j1", "j1-0001", 1, "blender", [], start, end, 1, blender=fields(**changes))


def test_blender_is_a_registered_kind() -> None:
    assert isinstance(KINDS["blender"], BlenderKind)


def test_valid_fields_round_trip_through_an_info_file() -> None:
    info = chunk()
    again = ChunkInfo.from_bytes(info.to_bytes())
    assert again.blender == fields()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"file": "../../etc/x.blend"}, "escapes the spool"),
        ({"file": ""}, "must be a path"),
        ({"file": "a\0b"}, "must be a path"),
        ({"file": 7}, "must be a path"),
        ({"scene": ""}, "scene name"),
        ({"scene": "a\nb"}, "scene name"),
        ({"scene": "x" * 300}, "scene name"),
        ({"extra": ["--python", "evil.py"]}, "runs code"),
        ({"extra": ["-P", "evil.py"]}, "runs code"),
        ({"extra": ["--python-expr", "import os"]}, "runs code"),
        ({"extra": ["-y"]}, "runs code"),
        ({"extra": ["--enable-autoexec"]}, "runs code"),
        ({"extra": ["--addons", "x"]}, "runs code"),
        ({"extra": ["-o", "/home/me/"]}, "not allowed"),
        ({"extra": ["--render-output", "/x"]}, "not allowed"),
        ({"extra": ["-S", "Other"]}, "not allowed"),
        ({"extra": ["other.blend"]}, "not an option"),
        ({"extra": ["-t"]}, "needs a value"),
        ({"extra": ["-E", "-y"]}, "not '-y'"),
        ({"extra": ["--threads", "--python-expr"]}, "does not start with '-'"),
        ({"extra": ["-t", "-1"]}, "does not start with '-'"),
        ({"scene": "-y"}, "starts with '-': Blender would read it as an option"),
        ({"scene": "--enable-autoexec"}, "starts with '-'"),
        ({"extra": "-t 4"}, "list"),
        ({"after": [1]}, "list of strings"),
        ({"trust_scripts": "yes"}, "true or false"),
        ({"version": [3]}, "major, minor"),
        ({"version": [True, 4]}, "major, minor"),
        ({"output": "render/main_"}, "run of '#'"),
        ({"output": "render/##/main"}, "run of '#'"),
        ({"output": "../up/f_####"}, "escapes the spool"),
        ({"movie": 1}, "true or false"),
    ],
)
def test_hostile_blender_fields_make_the_info_file_bad(change: dict[str, Any], reason: str) -> None:
    raw = json.loads(chunk().to_bytes())
    raw["blender"].update(change)
    with pytest.raises(BadInfoFile, match=reason):
        ChunkInfo.from_bytes(json.dumps(raw).encode())


def test_a_blender_chunk_without_fields_is_bad() -> None:
    raw = json.loads(chunk().to_bytes())
    raw["blender"] = None
    with pytest.raises(BadInfoFile, match="needs its 'blender' fields"):
        ChunkInfo.from_bytes(json.dumps(raw).encode())


@given(
    st.dictionaries(
        st.sampled_from([*fields(), "x"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda c: st.lists(c, max_size=3),
            max_leaves=5,
        ),
    )
)
def test_any_fields_are_accepted_or_refused_with_bad_info_file(data: dict[str, Any]) -> None:
    try:
        out = validate_fields(fields() | data)
    except BadInfoFile:
        return
    assert set(out) == set(fields())


def test_code_running_options_are_allowed_when_the_job_trusts_scripts() -> None:
    check_extra(["-y", "--python", "rig.py", "--python-expr", "print(1)", "-t", "4"], trust_scripts=True)
    with pytest.raises(BadInfoFile, match="runs code"):
        check_extra(["-t", "4", "-y"], trust_scripts=False)


def test_options_with_values_and_equals_forms() -> None:
    check_extra(["-t", "4", "--engine=CYCLES", "--factory-startup", "-E", "BLENDER_WORKBENCH"], trust_scripts=False)
    with pytest.raises(BadInfoFile, match="does not start with '-'"):  # an earlier pass reads `-1` as an option
        check_extra(["--log-level", "-1"], trust_scripts=False)
    with pytest.raises(BadInfoFile, match="needs a value"):
        check_extra(["--threads"], trust_scripts=False)


def test_the_command_line_has_the_issue_s_shape() -> None:
    f = fields(extra=["-t", "2"], after=["--cycles-device", "CPU"])
    assert build_argv("/opt/blender/blender", "/mnt/d/shots/a.blend", f, 10, 37, 3) == [
        "/opt/blender/blender", "-b", "/mnt/d/shots/a.blend", "-Y", "-S", "Main",
        "-s", "10", "-e", "37", "-j", "3", "-t", "2", "-a", "--", "--cycles-device", "CPU",
    ]  # fmt: skip


def test_a_script_job_fails_on_a_python_error() -> None:
    f = fields(trust_scripts=True, extra=["-y", "--python", "rig.py"])
    assert build_argv("blender", "a.blend", f, 1, 1, 1)[12:] == [
        "--python-exit-code", "1", "-y", "--python", "rig.py", "-a"]  # fmt: skip
    f = fields(trust_scripts=True, extra=["--python-exit-code", "3", "-P", "rig.py"])
    assert build_argv("blender", "a.blend", f, 1, 1, 1)[12:] == ["--python-exit-code", "3", "-P", "rig.py", "-a"]


def test_the_daemon_uses_its_own_blender_and_its_own_mount_of_the_spool(tmp_path: Path) -> None:
    caps = Capabilities(blender="/opt/b/blender", blender_version="3.4.1")
    (tmp_path / "mnt").mkdir()
    launch = BlenderKind().launch(chunk(), Spool(tmp_path / "mnt"), caps, None)
    argv = launch.argv
    assert argv[:3] == ["/opt/b/blender", "-b", str(tmp_path / "mnt" / "shots" / "a.blend")]
    staging = launch.staging.path
    assert staging.parent == tmp_path / "mnt" / "shots" / "render" and staging.name.startswith(".renderd-j1-0001-")
    assert argv[4:8] == ["-S", "Main", "-o", f"{staging}/main_####.png"]
    assert launch.settle([], True) == [] and not staging.exists()
    absolute = chunk(file="/shared/proj/a.blend", output=str(tmp_path / "out" / "f_####.png"))
    launch = BlenderKind().launch(absolute, Spool(tmp_path), caps, None)
    assert launch.argv[2] == "/shared/proj/a.blend"
    launch.settle([], False)


def test_a_relative_spool_path_still_gives_blender_absolute_paths(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spool").mkdir()
    caps = Capabilities(blender="/opt/b/blender", blender_version="3.4.1")
    launch = BlenderKind().launch(chunk(file="-y.blend"), Spool(Path("spool")), caps, None)
    assert launch.argv[2] == str(tmp_path / "spool" / "-y.blend") and launch.argv[7].startswith("/")
    launch.settle([], False)


def test_hosts_with_an_older_blender_or_without_scripts_leave_the_chunk() -> None:
    kind = BlenderKind()
    assert kind.refuse(chunk(), Capabilities(blender_version="3.4.1")) is None
    assert kind.refuse(chunk(version=[3, 4]), Capabilities(blender_version="3.4.0")) is None
    too_new = kind.refuse(chunk(version=[5, 0]), Capabilities(blender_version="3.4.1"))
    assert too_new is not None and "saved by Blender 5.0" in too_new and "3.4.1" in too_new
    assert kind.refuse(chunk(version=[4, 5]), Capabilities(blender_version="5.0.1")) is None
    nothing = kind.refuse(chunk(), Capabilities(blender="blender-x", blender_version=None))
    assert nothing is not None and "no working Blender" in nothing
    scripts = chunk(trust_scripts=True, extra=["-y"])
    refusal = kind.refuse(scripts, Capabilities(blender_version="3.4.1"))
    assert refusal is not None and "--allow-scripts" in refusal
    assert kind.refuse(scripts, Capabilities(blender_version="3.4.1", allow_scripts=True)) is None


@pytest.mark.parametrize(
    ("pattern", "frame", "expected"),
    [
        ("r/main_####.png", 7, "r/main_0007.png"),
        ("r/main_####.png", 12345, "r/main_12345.png"),
        ("r/a_##_b_###.exr", 5, "r/a_##_b_005.exr"),
        ("r##/x_#.png", 3, "r##/x_3.png"),
        ("r/x_####.png", -2, "r/x_-0002.png"),
    ],
)
def test_frame_file_replaces_the_last_hash_run_of_the_file_name(pattern: str, frame: int, expected: str) -> None:
    assert frame_file(pattern, frame) == expected


def test_movie_name_holds_the_range() -> None:
    assert movie_stem("r/movie_####", 1, 30) == "r/movie_0001-0030"


def test_frame_complete_needs_the_png_trailer(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(PNG.read_bytes())
    cut = tmp_path / "cut.png"
    cut.write_bytes(PNG.read_bytes()[:-5])
    empty = tmp_path / "empty.png"
    empty.touch()
    exr = tmp_path / "x.exr"
    exr.write_bytes(b"v/1\x01 anything")
    assert frame_complete(good) and frame_complete(exr)
    assert not frame_complete(cut) and not frame_complete(empty) and not frame_complete(tmp_path / "gone.png")
    assert not frame_complete(tmp_path)


class Run:
    """A finished Blender run laid out on disk: the .blend, the frames, the log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "shots" / "render").mkdir(parents=True)
        self.blend = root / "shots" / "a.blend"
        self.blend.write_bytes(b"BLENDER")
        os.utime(self.blend, ns=(1_000_000_000_000, 1_000_000_000_000))
        self.log = root / "chunk.log"
        self.log.write_text("renderd: argv [...'-S', 'Main'...]\nScene switch for render: 'Main' in file: 'x'\n")

    def frame(self, n: int, data: bytes | None = None, old: bool = False) -> Path:
        path = self.root / "shots" / "render" / f"main_{n:04d}.png"
        path.write_bytes(PNG.read_bytes() if data is None else data)
        if old:
            os.utime(path, ns=(1_000, 1_000))
        return path

    def judge(self, info: ChunkInfo | None = None) -> str | None:
        return BlenderKind().check_result(info or chunk(), Spool(self.root), self.log)


def test_a_run_that_wrote_every_frame_succeeded(tmp_path: Path) -> None:
    run = Run(tmp_path)
    for n in (1, 2, 3):
        run.frame(n)
    assert run.judge() is None


@pytest.mark.parametrize(
    ("frame2", "reason"),
    [
        (None, "2 missing"),
        (b"", "2 empty"),
        (b"\x89PNG\r\n\x1a\n half", "2 incomplete"),
        ("old", "2 older than the .blend"),
    ],
)
def test_a_run_that_exited_0_without_every_frame_failed(tmp_path: Path, frame2: Any, reason: str) -> None:
    run = Run(tmp_path)
    run.frame(1)
    run.frame(3)
    if frame2 == "old":
        run.frame(2, old=True)
    elif frame2 is not None:
        run.frame(2, frame2)
    result = run.judge()
    assert result is not None and "1 of 3 frame(s)" in result and reason in result


def test_a_run_that_rendered_another_scene_failed(tmp_path: Path) -> None:
    run = Run(tmp_path)
    for n in (1, 2, 3):
        run.frame(n)
    run.log.write_text("Can't find scene: 'Main' in file: 'x'\nSaved: 'x'\n")
    result = run.judge()
    assert result is not None and "did not switch to scene 'Main'" in result
    run.log.write_text("Scene switch for render: 'Main 2' in file: 'x'\n")
    assert run.judge() is not None


def test_the_scene_switch_line_of_blender_3_4_and_5_x() -> None:
    assert scene_switched("Read blend: x\nScene switch for render: 'Alt Shot' in file: '/a b.blend'\n", "Alt Shot")
    assert scene_switched("00:00.012  scene            | Scene switch for render: 'Main' in file: 'x'\n", "Main")
    assert not scene_switched("renderd: argv ['Scene switch for render: 'Main' in file:']\n", "Main")
    assert not scene_switched("Scene switch for render: 'Main.001' in file: 'x'\n", "Main")
    assert not scene_switched("Scene switch for render: 'M' in file: 'x'\n", ".")


def test_a_video_chunk_needs_its_video(tmp_path: Path) -> None:
    run = Run(tmp_path)
    info = chunk(1, 30, movie=True, output="shots/render/movie_####")
    assert run.judge(info) is not None
    (tmp_path / "shots" / "render" / "movie_0001-0030.mp4").write_bytes(b"\0\0\0 ftypisom")
    assert run.judge(info) is None


def test_host_version_runs_blender_once_and_caches_it(tmp_path: Path) -> None:
    fake = tmp_path / "blender"
    counter = tmp_path / "runs"
    fake.write_text(f"#!/bin/sh\necho run >> {counter}\necho 'Blender 4.2.3 LTS'\necho 'build date: x'\n")
    fake.chmod(0o755)
    assert host_version(str(fake), tmp_path / "cache") == "4.2.3"
    assert host_version(str(fake), tmp_path / "cache") == "4.2.3"
    assert counter.read_text().count("run") == 1
    assert host_version(str(tmp_path / "no-such-blender"), tmp_path / "cache") is None


def test_a_frame_that_is_a_symlink_is_never_done(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.frame(1)
    run.frame(3)
    real = tmp_path / "elsewhere.png"
    real.write_bytes(PNG.read_bytes())
    (tmp_path / "shots" / "render" / "main_0002.png").symlink_to(real)
    result = run.judge()
    assert result is not None and "2 a symbolic link" in result
    assert not frame_complete(tmp_path / "shots" / "render" / "main_0002.png")


def launched(tmp_path: Path, **changes: Any) -> Any:
    caps = Capabilities(blender="/opt/b/blender", blender_version="3.4.1")
    return BlenderKind().launch(chunk(**changes), Spool(tmp_path), caps, tmp_path / "notes")


def test_frames_are_renamed_into_place_over_a_planted_symlink(tmp_path: Path) -> None:
    out = tmp_path / "shots" / "render"
    out.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    (out / "main_0001.png").symlink_to(victim)
    launch = launched(tmp_path)
    assert len(os.listdir(tmp_path / "notes")) == 1  # what the next start would clean after a crash
    staged = launch.staging.path
    for n in (1, 2, 3):
        (staged / f"main_{n:04d}.png").write_bytes(PNG.read_bytes())
    saved = [f"{staged}/main_000{n}.png" for n in (1, 2, 3)]
    launch.collect(saved[:1])  # while Blender runs: frame 1 said `Saved:`
    assert not (out / "main_0001.png").is_symlink() and victim.read_bytes() == b"keep me"
    assert launch.settle(saved, True) == [str(out / f"main_000{n}.png") for n in (1, 2, 3)]
    assert sorted(os.listdir(out)) == ["main_0001.png", "main_0002.png", "main_0003.png"]
    assert os.listdir(tmp_path / "notes") == []


def test_a_failed_run_moves_only_the_frames_blender_finished(tmp_path: Path) -> None:
    launch = launched(tmp_path)
    staged = launch.staging.path
    (staged / "main_0001.png").write_bytes(PNG.read_bytes())
    (staged / "main_0002.png").write_bytes(b"\x89PNG half")  # cut short when Blender was killed
    launch.settle([f"{staged}/main_0001.png"], False)
    assert os.listdir(tmp_path / "shots" / "render") == ["main_0001.png"]


def test_an_existing_frame_is_marked_so_overwrite_off_still_skips_it(tmp_path: Path) -> None:
    out = tmp_path / "shots" / "render"
    out.mkdir(parents=True)
    (out / "main_0002.png").write_bytes(b"")  # a placeholder of another host
    (out / "main_0003.png").symlink_to(tmp_path / "nowhere")  # not a frame: no marker
    launch = launched(tmp_path)
    assert os.listdir(launch.staging.path) == ["main_0002.png"]
    launch.settle([], True)  # an empty marker is never moved into place
    assert (out / "main_0002.png").read_bytes() == b"" and (out / "main_0003.png").is_symlink()


def test_leftovers_of_a_killed_run_are_removed_and_nothing_else(tmp_path: Path) -> None:
    launch = launched(tmp_path)
    staged = launch.staging.path
    (staged / "main_0001.png").write_bytes(b"partial")
    notes = tmp_path / "notes"
    (notes / "forged").write_text(str(tmp_path / "shots"))  # not a staging folder: left alone
    assert clean_leftovers(notes) == 1
    assert not staged.exists() and (tmp_path / "shots" / "render").is_dir() and os.listdir(notes) == []


def test_an_output_folder_below_a_planted_link_in_the_spool_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "render").mkdir(parents=True)
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "shots").symlink_to(elsewhere)  # the output is shots/render/main_####.png
    with pytest.raises(OSError, match="or one above it is a symbolic link"):
        launched(spool)
    assert os.listdir(elsewhere / "render") == []
    mount = tmp_path / "mnt"
    mount.symlink_to(spool)  # the root's own path may be a link: the admin's mount
    (spool / "shots").unlink()
    launch = launched(mount)
    assert (spool / "shots" / "render").is_dir()
    launch.settle([], True)


def test_a_staging_folder_swapped_during_the_run_is_not_trusted_nor_deleted(tmp_path: Path) -> None:
    launch = launched(tmp_path)
    staged = launch.staging.path
    (staged / "main_0001.png").write_bytes(PNG.read_bytes())  # written before the swap: ours
    moved_away = staged.with_name("moved-away")
    staged.rename(moved_away)
    staged.mkdir()  # the attacker's folder under our name, with a link for Blender to follow
    (staged / "main_0002.png").symlink_to(tmp_path / "victim")
    launch.settle([], True)
    out = tmp_path / "shots" / "render"
    assert (out / "main_0001.png").read_bytes() == PNG.read_bytes()
    assert not (out / "main_0002.png").exists() and (staged / "main_0002.png").is_symlink()
    assert os.listdir(moved_away) == []
