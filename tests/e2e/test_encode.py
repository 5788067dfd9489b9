"""`render add shot.blend --encode mp4`: real Blender renders the frames, then real ffmpeg makes the
video beside them, as a job that waits for the frames' job; ffprobe counts its frames."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.daemons import Daemon, render, wait_for

BLEND = Path(__file__).parent.parent / "fixtures" / "blend"

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(shutil.which("blender") is None, reason="needs the `blender` program"),
    pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                       reason="needs ffmpeg and ffprobe (Debian's ffmpeg; tests/bootstrap installs it)"),
]
DAEMON = ("--when", "always", "--poll", "0.5")


def frames_in(video: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                          "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", f"file:{video}"],
                         capture_output=True, text=True, timeout=120, check=True)
    return int(out.stdout.strip())


@pytest.mark.parametrize("container", ["mp4", "mov", "webm"])
def test_the_frames_are_rendered_then_encoded_into_a_video_beside_them(
    spool: Path, container: str, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    shots = spool / "shots"
    shots.mkdir()
    shutil.copy(BLEND / "render_b34.blend", shots / "render_b34.blend")
    added: dict[str, Any] = json.loads(render(spool, "add", "--json", "--scene", "Shot", "--encode", container,
                                              str(shots / "render_b34.blend")).stdout)
    video_job = added["encode"]["job"]
    assert video_job == f"{added['job']}.{container}" and added["encode"]["videos"] == [f"render_b34.{container}"]
    sched = json.loads(render(spool, "status", video_job, "--json").stdout)["jobs"][0]["scheduling"]
    assert sched["after"] == [added["job"]] and sched["dependency"] == "waiting"
    start_daemon("a", *DAEMON)
    waited = render(spool, "wait", video_job, "--timeout", "600", check=False, timeout=700)
    assert waited.returncode == 0, waited.stderr + "".join(
        p.read_text(errors="replace") for p in (spool / "jobs" / video_job / "logs").glob("*.log"))
    frames = sorted((shots / "frames").glob("shot_*.png"))
    assert len(frames) == 3
    video = shots / "frames" / f"render_b34.{container}"
    assert video.is_file() and not video.is_symlink()
    assert frames_in(video) == len(frames)
    assert not any(p.name.startswith(".renderd-") for p in (shots / "frames").iterdir())
    done = [json.loads(p.read_text()) for p in (spool / "jobs" / added["job"] / "done").glob("*.json")]
    encoded = [json.loads(p.read_text()) for p in (spool / "jobs" / video_job / "done").glob("*.json")]
    assert min(e["started"] for e in encoded) >= max(d["finished"] for d in done)


def test_a_host_without_ffmpeg_leaves_the_encode_chunk(
    spool: Path, tmp_path: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    # A PATH with Blender and python but no ffmpeg: this daemon renders frames, never the video.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "blender").symlink_to(shutil.which("blender") or "/usr/bin/blender")
    shots = spool / "shots"
    shots.mkdir()
    shutil.copy(BLEND / "render_b34.blend", shots / "render_b34.blend")
    added = json.loads(render(spool, "add", "--json", "--scene", "Shot", "--encode", "mp4",
                              str(shots / "render_b34.blend")).stdout)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{bin_dir}")
    lone = Daemon(spool, "noff", tmp_path, DAEMON, env=env)
    try:
        lone.start()
        waited = render(spool, "wait", added["job"], "--timeout", "600", check=False, timeout=700)
        assert waited.returncode == 0, waited.stderr
        status = json.loads(render(spool, "status", added["encode"]["job"], "--json").stdout)["jobs"][0]
        assert status["state"] == "queued" and status["chunks"]["running"] == 0
        wait_for(lambda: "leaving job" in lone.output() and "no ffmpeg" in lone.output(), 60, what="the refusal")
        text = render(spool, "status", added["encode"]["job"]).stdout
        assert "no live daemon may run this job's encode chunks" in text
    finally:
        lone.stop()
