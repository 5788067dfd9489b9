"""A real renderd renders .blend chunks with the real Blender (Debian's 3.4), and judges the result itself."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers.daemons import leftover_info_files, render

BLEND = Path(__file__).parent.parent / "fixtures" / "blend"

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(shutil.which("blender") is None, reason="needs the `blender` program (CI installs it)"),
]
DAEMON = ("--when", "always", "--poll", "0.5")


def add_blend(spool: Path, name: str, *args: str) -> dict[str, Any]:
    dest = spool / "shots" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLEND / name, dest)
    data: dict[str, Any] = json.loads(render(spool, "add", "--json", str(dest), *args).stdout)
    return data


def wait(spool: Path, job: str, timeout: float = 240) -> Any:
    return render(spool, "wait", job, "--timeout", str(timeout), check=False, timeout=timeout + 60)


def logs(spool: Path, job: str) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted((spool / "jobs" / job / "logs").iterdir()))


def test_a_three_frame_cycles_chunk_is_rendered_by_real_blender(spool: Path, tmp_path: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_blend(spool, "render_b34.blend")
    assert [(c["scene"], c["start"], c["end"]) for c in job["chunks"]] == [("Shot", 1, 3)]
    elsewhere = tmp_path / "mnt" / "render-spool"  # this host mounts the share at another path
    elsewhere.parent.mkdir()
    elsewhere.symlink_to(spool)
    start_daemon("a", *DAEMON, spool_path=elsewhere)
    waited = wait(spool, job["job"])
    assert waited.returncode == 0, waited.stderr + logs(spool, job["job"])
    frames = spool / "shots" / "frames"
    for n in (1, 2, 3):
        png = frames / f"shot_{n:04d}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert leftover_info_files(spool) == []
    text = logs(spool, job["job"])
    assert f"Scene switch for render: 'Shot' in file: '{elsewhere}/shots/render_b34.blend'" in text
    # Blender writes into the daemon's staging folder; each frame is renamed into place from there
    staged = re.escape(f"{elsewhere}/shots/frames/.renderd-{job['chunks'][0]['chunk']}-") + "[0-9a-f]{8}/"
    assert all(re.search(f"Saved: '{staged}shot_{n:04d}.png'", text) for n in (1, 2, 3))
    assert not any(p.name.startswith(".renderd-") for p in frames.iterdir())
    assert "renderd: done in" in text
    done = json.loads((spool / "jobs" / job["job"] / "done" / f"{job['chunks'][0]['chunk']}.json").read_text())
    assert done["frames"] == 3


def test_a_scene_name_blender_does_not_know_is_a_failure(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    """Blender exits 0 and renders the active scene instead: the scene switch line is the proof."""
    job = add_blend(spool, "render_b34.blend", "--max-attempts", "1")
    (info_path,) = (spool / "queue").rglob("*.info")
    info = json.loads(info_path.read_text())
    info["blender"]["scene"] = "Renamed Since"  # the shot was re-saved with the scene renamed
    info_path.write_text(json.dumps(info))
    start_daemon("a", *DAEMON)
    waited = wait(spool, job["job"])
    assert waited.returncode == 1, waited.stderr
    chunk = job["chunks"][0]["chunk"]
    reason = (spool / "failed" / f"{chunk}.info.reason").read_text()
    assert "did not switch to scene 'Renamed Since'" in reason
    assert "Can't find scene: 'Renamed Since'" in logs(spool, job["job"])


def test_a_frame_blender_skipped_is_a_failure(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    """Scene "Keep" has Overwrite off: Blender skips a frame whose file exists, even an empty placeholder."""
    frames = spool / "shots" / "frames"
    frames.mkdir(parents=True)
    (frames / "keep_0002.png").touch()
    job = add_blend(spool, "render_b34.blend", "--scene", "Keep", "--max-attempts", "1")
    assert [(c["start"], c["end"]) for c in job["chunks"]] == [(1, 3)]  # an empty file is not a frame
    start_daemon("a", *DAEMON)
    waited = wait(spool, job["job"])
    assert waited.returncode == 1, waited.stderr
    reason = (spool / "failed" / f"{job['chunks'][0]['chunk']}.info.reason").read_text()
    assert "1 of 3 frame(s) are not rendered: 2 empty" in reason
    assert 'skipping existing frame "' in logs(spool, job["job"])
    assert (frames / "keep_0001.png").stat().st_size > 0 and (frames / "keep_0003.png").stat().st_size > 0


def test_a_file_from_a_newer_blender_is_left_for_hosts_that_have_one(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_blend(spool, "render_b50.blend")
    daemon = start_daemon("a", *DAEMON)
    host = json.loads((spool / "hosts" / "a.json").read_text())
    assert host["blender_version"].startswith("3.4")
    waited = wait(spool, job["job"], timeout=3)
    assert waited.returncode == 3
    assert "no live daemon may run" in waited.stderr
    assert len(list((spool / "queue").rglob("*.info"))) == 1
    assert list((spool / "bad").iterdir()) == []
    assert "saved by Blender 5.0" in daemon.output()


def test_a_host_without_blender_leaves_blender_jobs(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_blend(spool, "render_b34.blend")
    daemon = start_daemon("nob", *DAEMON, "--blender", str(spool / "no-such-blender"))
    assert json.loads((spool / "hosts" / "nob.json").read_text())["blender_version"] is None
    waited = wait(spool, job["job"], timeout=3)
    assert waited.returncode == 3 and "no live daemon may run" in waited.stderr
    assert "no working Blender" in daemon.output()


def test_a_job_that_runs_python_renders_only_where_scripts_are_allowed(
    spool: Path, tmp_path: Path, start_daemon
) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "script-ran"
    expr = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')"
    job = add_blend(spool, "render_b34.blend", "--trust-scripts", "--", "--python-expr", expr)
    plain = start_daemon("plain", *DAEMON)
    waited = wait(spool, job["job"], timeout=3)
    assert waited.returncode == 3 and "no live daemon may run" in waited.stderr
    assert "--allow-scripts" in plain.output() and not marker.exists()
    start_daemon("trusting", *DAEMON, "--allow-scripts")
    waited = wait(spool, job["job"])
    assert waited.returncode == 0, waited.stderr + logs(spool, job["job"])
    assert marker.read_text() == "ran"
    assert "'--python-exit-code', '1', '--python-expr'" in logs(spool, job["job"])


def test_a_video_scene_is_one_chunk_judged_by_its_video_file(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_blend(spool, "scenes_b34.blend", "--scene", "Movie", "--frames", "1-3", "--chunk", "1")
    assert [(c["start"], c["end"]) for c in job["chunks"]] == [(1, 3)]
    start_daemon("a", *DAEMON)
    waited = wait(spool, job["job"])
    assert waited.returncode == 0, waited.stderr + logs(spool, job["job"])
    (video,) = (spool / "shots" / "render").iterdir()
    assert video.name.startswith("movie_0001-0003.") and video.stat().st_size > 0
