"""Issue 10, findings 1, 2 and 6: a Blender chunk runs what the daemon decides, nothing else.

Each test plants what an artist's account could write into the shared spool, with real
Blender (Debian's 3.4) under real daemons on temp spools:

1. a scene named `-y` (Blender reads it as an option in its settings pass and undoes `-Y`:
   the file's auto-run text and Python drivers ran);
2. an `env` block choosing the program (`PATH`), startup scripts (`BLENDER_USER_SCRIPTS`) and
   a preloaded library (`LD_PRELOAD`);
6. a frame path planted as a symlink to someone else's file (Blender wrote through it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.attacker import DAEMON_USER, DaemonAs, User, can_run_as_others, ensure_user, snapshot, studio_spool
from helpers.daemons import BIN, render, wait_for

BLEND = Path(__file__).parent.parent / "fixtures" / "blend"
DAEMON = ("--when", "always", "--poll", "0.5")

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(shutil.which("blender") is None, reason="needs the `blender` program (CI installs it)"),
]

# A tiny Workbench scene whose auto-run text block and Python driver each write a marker file
# when the file's Python runs (it must not, under renderd's -Y).
MAKE_HOSTILE = """
import bpy, sys
out, text_marker, driver_marker, scene_name = sys.argv[-4:]
bpy.ops.wm.read_homefile(use_empty=True)
text = bpy.data.texts.new("autorun.py")
text.write(f"import pathlib\\npathlib.Path({text_marker!r}).write_text('text ran')\\n")
text.use_module = True
s = bpy.context.scene
s.name = scene_name
s.render.engine = 'BLENDER_WORKBENCH'
s.render.resolution_x, s.render.resolution_y, s.render.resolution_percentage = 16, 9, 100
s.frame_start, s.frame_end = 1, 2
s.render.image_settings.file_format = 'PNG'
s.render.filepath = '//frames/hostile_####'
cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
s.collection.objects.link(cam)
s.camera = cam
empty = bpy.data.objects.new("Driven", None)
s.collection.objects.link(empty)
curve = empty.driver_add("location", 0)
curve.driver.type = 'SCRIPTED'
curve.driver.expression = f"len(open({driver_marker!r}, 'w').write('driver ran') * 'x') * 0"
bpy.ops.wm.save_as_mainfile(filepath=out)
"""


def hostile_blend(dest: Path, markers: Path, scene: str = "Scene") -> list[Path]:
    """Write the hostile .blend at `dest`; returns the marker files its Python would write."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    marks = [markers / "text-ran", markers / "driver-ran"]
    subprocess.run(
        ["blender", "-b", "--factory-startup", "--python-expr", MAKE_HOSTILE, "--", str(dest), *map(str, marks), scene],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return marks


def add(spool: Path, blend: Path, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(spool, "add", "--json", str(blend), *args).stdout)
    return data


def info_files(spool: Path) -> list[Path]:
    return sorted((spool / "queue").rglob("*.info"))


def plant(info_path: Path, change: Any) -> None:
    """Rewrite a queued info file as an artist's account could."""
    info = json.loads(info_path.read_text())
    change(info)
    info_path.write_text(json.dumps(info))


def wait_job(spool: Path, job: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return render(spool, "wait", job, "--timeout", str(timeout), check=False, timeout=timeout + 60)


def logs(spool: Path, job: str) -> str:
    folder = spool / "jobs" / job / "logs"
    return "".join(p.read_text(errors="replace") for p in sorted(folder.iterdir())) if folder.is_dir() else ""


def quarantined(spool: Path) -> dict[str, str]:
    """bad/<name>.<nonce> -> its reason, once the reason is written."""
    names = set(os.listdir(spool / "bad"))
    return {n: (spool / "bad" / f"{n}.reason").read_text() for n in names if f"{n}.reason" in names}


# --------------------------------------------------------------------------- finding 1


def test_a_scene_named_dash_y_is_refused_at_add(spool: Path, tmp_path: Path) -> None:
    marks = hostile_blend(spool / "shots" / "dash.blend", tmp_path, scene="-y")
    added = render(spool, "add", str(spool / "shots" / "dash.blend"), check=False)
    assert added.returncode != 0
    assert "'-y'" in added.stderr and "starts with '-'" in added.stderr and "Traceback" not in added.stderr
    assert len(added.stderr.strip().splitlines()) == 1, added.stderr
    assert info_files(spool) == []
    assert not any(m.exists() for m in marks)


def test_extra_option_values_starting_with_dash_are_refused_at_add(spool: Path) -> None:
    shutil.copytree(BLEND, spool / "shots", dirs_exist_ok=True)
    for extra in (["-t", "-y"], ["-E", "--enable-autoexec"], ["--log-level", "-1"]):
        added = render(spool, "add", str(spool / "shots" / "render_b34.blend"), "--", *extra, check=False)
        assert added.returncode != 0 and "does not start with '-'" in added.stderr, (extra, added.stderr)
        assert "Traceback" not in added.stderr
    assert info_files(spool) == []


def test_a_planted_scene_dash_y_is_quarantined_and_the_files_python_never_runs(
    spool: Path, tmp_path: Path, start_daemon: Any
) -> None:
    marks = hostile_blend(spool / "shots" / "h.blend", tmp_path)
    job = add(spool, spool / "shots" / "h.blend", "--chunk", "1")  # two chunks: frame 1, frame 2
    first, second = info_files(spool)
    plant(first, lambda i: i["blender"].update(scene="-y"))
    plant(second, lambda i: i["blender"].update(scene="--enable-autoexec"))
    other = shutil.copy(spool / "shots" / "h.blend", spool / "shots" / "other.blend")
    served = add(spool, Path(other))  # a sound job of the same file: renders under -Y
    daemon = start_daemon("a", *DAEMON)
    bad = wait_for(lambda: len(quarantined(spool)) == 2 and quarantined(spool), 60, what="both plants in bad/")
    assert all("starts with '-'" in reason for reason in bad.values()), bad
    waited = wait_job(spool, served["job"])
    assert waited.returncode == 0, waited.stderr + logs(spool, served["job"])
    assert (spool / "shots" / "frames" / "hostile_0002.png").stat().st_size > 0
    assert not any(m.exists() for m in marks), "the file's own Python ran"
    assert logs(spool, job["job"]) == "", "a quarantined chunk started"
    assert daemon.alive()


# --------------------------------------------------------------------------- finding 2


def plants_for_env(tmp_path: Path) -> tuple[dict[str, str], dict[str, Path]]:
    """A fake `blender`, a startup script and a preload library, each writing its marker when it runs."""
    marks = {k: tmp_path / f"{k}-ran" for k in ("fake-blender", "startup-script", "preload")}
    fakebin = tmp_path / "fakebin"
    fakebin.mkdir()
    fake = fakebin / "blender"
    fake.write_text(f"#!/bin/sh\necho ran > {marks['fake-blender']}\nexit 0\n")
    fake.chmod(0o755)
    scripts = tmp_path / "user-scripts"
    (scripts / "startup").mkdir(parents=True)
    (scripts / "startup" / "evil.py").write_text(
        f"import pathlib\npathlib.Path({str(marks['startup-script'])!r}).write_text('ran')\n"
    )
    source = tmp_path / "preload.c"
    source.write_text(
        "#include <fcntl.h>\n#include <unistd.h>\n"
        "__attribute__((constructor)) static void ran(void) {\n"
        f'    int fd = open("{marks["preload"]}", O_WRONLY | O_CREAT | O_APPEND, 0644);\n'
        '    if (fd >= 0) { write(fd, "x", 1); close(fd); }\n}\n'
    )
    library = tmp_path / "preload.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True, timeout=60)
    env = {
        "PATH": f"{fakebin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "BLENDER_USER_SCRIPTS": str(scripts),
        "LD_PRELOAD": str(library),
    }
    return env, marks


def test_the_plants_for_the_env_test_do_work_when_passed_on(tmp_path: Path) -> None:
    """The control: each plant runs when its variable reaches a process (else the next test proves nothing)."""
    env, marks = plants_for_env(tmp_path)
    planted = dict(os.environ, **env)
    subprocess.run(["blender", "-b"], env=planted, capture_output=True, timeout=120, check=False)  # PATH: the fake
    real = os.path.abspath(shutil.which("blender") or "")
    subprocess.run([real, "-b"], env=planted, capture_output=True, timeout=120, check=False)  # scripts, preload
    assert all(m.exists() for m in marks.values()), {k: m.exists() for k, m in marks.items()}


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc for the preload library")
def test_a_blender_chunks_env_chooses_no_program_script_or_library(
    spool: Path, tmp_path: Path, start_daemon: Any
) -> None:
    env, marks = plants_for_env(tmp_path)
    shutil.copy(BLEND / "render_b34.blend", spool / "render_b34.blend")
    job = add(spool, spool / "render_b34.blend")
    for info in info_files(spool):
        plant(info, lambda i: i.update(env=env))
    daemon = start_daemon("a", *DAEMON)  # the default --blender: the bare name `blender`
    waited = wait_job(spool, job["job"])
    text = logs(spool, job["job"])
    assert waited.returncode == 0, waited.stderr + text
    assert f"renderd: argv [{os.path.abspath(shutil.which('blender') or '')!r}, '-b', " in text
    assert {k: m.exists() for k, m in marks.items()} == dict.fromkeys(marks, False)
    assert "ignored its env entries BLENDER_USER_SCRIPTS, LD_PRELOAD, PATH" in daemon.output()


def test_renderd_check_shows_the_absolute_blender_path(tmp_path: Path) -> None:
    program = os.path.abspath(shutil.which("blender") or "")
    out = subprocess.run([str(BIN / "renderd"), "--check"], capture_output=True, text=True, timeout=120, check=True)
    assert f"blender: {program} (Blender " in out.stdout
    missing = subprocess.run(
        [str(BIN / "renderd"), "--check", "--blender", str(tmp_path / "no-blender")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "no-blender' not found" in missing.stdout and "Traceback" not in missing.stderr


# --------------------------------------------------------------------------- finding 6


def test_a_frame_planted_as_a_symlink_is_replaced_and_its_target_untouched(
    spool: Path, tmp_path: Path, start_daemon: Any
) -> None:
    victim = tmp_path / "victim" / "thesis.png"
    victim.parent.mkdir()
    victim.write_bytes(b"someone's work")
    shutil.copy(BLEND / "render_b34.blend", spool / "render_b34.blend")
    job = add(spool, spool / "render_b34.blend")  # Shot: frames 1-3 -> frames/shot_####.png
    frames = spool / "frames"
    frames.mkdir()
    (frames / "shot_0001.png").symlink_to(victim)
    (frames / "shot_0002.png").symlink_to(tmp_path / "victim" / "new-file.png")  # a dangling one
    start_daemon("a", *DAEMON)
    waited = wait_job(spool, job["job"])
    assert waited.returncode == 0, waited.stderr + logs(spool, job["job"])
    assert victim.read_bytes() == b"someone's work"
    assert sorted(os.listdir(victim.parent)) == ["thesis.png"]
    for n in (1, 2, 3):
        frame = frames / f"shot_{n:04d}.png"
        assert not frame.is_symlink() and frame.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in frames.iterdir() if p.name.startswith(".renderd-")], "a staging folder was left"
    done = json.loads((spool / "jobs" / job["job"] / "done" / f"{job['chunks'][0]['chunk']}.json").read_text())
    assert done["saved"] == [str(frames / f"shot_{n:04d}.png") for n in (1, 2, 3)]


def test_an_output_folder_planted_as_a_symlink_is_not_written_through(
    spool: Path, tmp_path: Path, start_daemon: Any
) -> None:
    elsewhere = tmp_path / "someone-elses-folder"
    elsewhere.mkdir()
    shutil.copy(BLEND / "render_b34.blend", spool / "render_b34.blend")
    job = add(spool, spool / "render_b34.blend", "--max-attempts", "1")
    (spool / "frames").symlink_to(elsewhere)
    start_daemon("a", *DAEMON)
    waited = wait_job(spool, job["job"])
    assert waited.returncode == 1, waited.stderr
    reason = (spool / "failed" / f"{job['chunks'][0]['chunk']}.info.reason").read_text()
    assert "is a symbolic link" in reason
    assert os.listdir(elsewhere) == []


def blender_processes_with(text: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if text.encode() in fh.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_a_killed_daemons_staging_folder_is_removed_at_its_next_start(spool: Path, start_daemon: Any) -> None:
    shutil.copy(BLEND / "render_b34.blend", spool / "render_b34.blend")
    job = add(spool, spool / "render_b34.blend", "--frames", "1-400", "--chunk", "400")
    frames = spool / "frames"
    daemon = start_daemon("a", *DAEMON)

    def staging_with_a_frame() -> Path | None:
        folders = [p for p in frames.iterdir() if p.name.startswith(".renderd-")] if frames.is_dir() else []
        return next((f for f in folders if any(f.iterdir())), None)

    staging = wait_for(staging_with_a_frame, 120, what="a staged frame")
    daemon.kill()
    daemon.remove_socket()
    wait_for(lambda: not blender_processes_with(staging.name), 60, what="the killed run's Blender to stop")
    assert staging.is_dir(), "what a killed run leaves behind"
    start_daemon("a", *DAEMON)
    wait_for(lambda: not staging.exists(), 60, what="the leftover staging folder to be removed")
    render(spool, "cancel", job["job"], check=False)


def test_a_stopped_daemon_keeps_the_finished_frames_and_removes_its_staging_folder(
    spool: Path, start_daemon: Any
) -> None:
    shutil.copy(BLEND / "render_b34.blend", spool / "render_b34.blend")
    add(spool, spool / "render_b34.blend", "--frames", "1-400", "--chunk", "400")
    frames = spool / "frames"
    daemon = start_daemon("a", *DAEMON)
    wait_for(lambda: frames.is_dir() and any(p.name.startswith("shot_") for p in frames.iterdir()), 120,
             what="a frame moved into place while the chunk renders")
    assert daemon.stop() == 0
    names = os.listdir(frames)
    assert not [n for n in names if n.startswith(".renderd-")], names
    for name in names:
        assert (frames / name).read_bytes()[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82", f"{name} is not whole"


@pytest.mark.skipif(not can_run_as_others(), reason="needs root, useradd and /usr/bin/python3.11")
def test_an_artists_frame_links_in_a_studio_spool_touch_no_ones_work(tmp_path: Path) -> None:
    """The plant made by a second Unix user in a group-writable spool; the daemon runs as its own user."""
    ensure_user(DAEMON_USER)
    with studio_spool() as studio:
        blend = studio.spool / "render_b34.blend"
        shutil.copy(BLEND / "render_b34.blend", blend)
        os.chmod(blend, 0o664)
        added = studio.attacker.render(studio.spool, "add", "--json", str(blend))
        assert added.returncode == 0, added.stderr
        job = json.loads(added.stdout)["job"]
        frames = studio.spool / "frames"
        studio.attacker.mkdir(frames)
        studio.attacker.symlink(studio.victim / "shot_0001.exr", frames / "shot_0001.png")
        studio.attacker.symlink(studio.victim / "notes.txt", frames / "shot_0002.png")
        before = snapshot(studio.victim)
        daemon = DaemonAs(studio.spool, "farm1", tmp_path, DAEMON, User(DAEMON_USER)).start()
        try:
            waited = wait_job(studio.spool, job)
            assert waited.returncode == 0, waited.stderr + logs(studio.spool, job) + daemon.output()
        finally:
            daemon.stop()
            daemon.remove_socket()
        assert snapshot(studio.victim) == before
        for n in (1, 2, 3):
            frame = frames / f"shot_{n:04d}.png"
            assert not frame.is_symlink() and frame.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert frame.stat().st_uid == User(DAEMON_USER).uid
