"""Scheduling's files are spool files like any other (docs/scheduling.md, docs/spool-format.md): a
hostile `scheduling` field, a planted blocklist file, an encode chunk whose frame is a link to
someone's file or whose video name reads as an option.  Each plant against real daemons: the
daemon lives on, follows nothing, runs nothing it should not, and serves the other jobs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import FAKEPROG
from helpers.daemons import Daemon, add_job, render, wait_for

from renderd.format.info import ChunkInfo
from renderd.format.manifest import Manifest
from renderd.spool import Spool

FAST = ("--allow-commands", "--poll", "0.5")


def served(spool: Path, markers: Path, daemon: Daemon, tag: str) -> None:
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), tag])
    assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
    assert (markers / f"{tag}.runs").exists()
    assert daemon.alive() and "Traceback" not in daemon.output()


@pytest.mark.parametrize("bad", [
    {"version": 99, "tags": []},  # rules of a newer renderd: not run as if it had none
    {"version": 1, "tags": ["-y", "\x1b]52;c;x\x07"]},
    {"version": 1, "hosts": []},
    {"version": 1, "after": ["SELF"]},
    {"version": 1, "max_share": "1e999%"},
])
def test_a_hostile_scheduling_field_makes_the_manifest_unreadable_and_stops_nothing(
    spool: Path, markers: Path, start_daemon: Any, bad: dict[str, Any]
) -> None:
    """As any unreadable manifest (tests/security/test_format.py): one line in `render status`, and the
    job's chunks are judged alone, with the default rules: whoever can write the manifest could have
    written other rules just as well, so a broken one must not stop the job either."""
    job = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "planted{start}"], "--chunk", "1",
                  "--tags", "gpu")["job"]
    path = spool / "jobs" / job / "manifest.json"
    data = json.loads(path.read_text())
    data["scheduling"] = {k: [job if v == "SELF" else v for v in val] if isinstance(val, list) else val
                          for k, val in bad.items()}
    path.write_text(json.dumps(data))
    daemon = start_daemon("a", *FAST)
    served(spool, markers, daemon, "good")
    wait_for(lambda: len(list(markers.glob("planted*.runs"))) == 2, 120, what="the job's chunks")
    status = render(spool, "status", check=False)
    assert status.returncode == 0 and f"{job}: unreadable" in status.stderr and "\x1b" not in status.stderr


def test_a_planted_failures_file_is_never_followed_and_blocks_nothing_it_may_not(
    spool: Path, markers: Path, tmp_path: Path, start_daemon: Any
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    failing = add_job(spool, "1-3", ["false"], "--chunk", "1", "--max-attempts", "1")["job"]
    failures = spool / "jobs" / failing / "failures"
    failures.mkdir(exist_ok=True)  # (render add makes it)
    (failures / "a.json").symlink_to(victim)  # the daemon rewrites its own file after each failure
    os.mkfifo(failures / "b.json")  # a FIFO where another host's record belongs: never opened blocking
    daemon = start_daemon("a", *FAST)
    waited = render(spool, "wait", failing, "--timeout", "120", check=False)
    assert waited.returncode == 1
    assert victim.read_text() == "precious\n"
    record = json.loads((failures / "a.json").read_text())
    assert record["host"] == "a" and record["failures"] >= 1 and not (failures / "a.json").is_symlink()
    status = render(spool, "status", failing, "--json", check=False)
    assert status.returncode == 0
    served(spool, markers, daemon, "good")


def _encode_job(spool: Path, frames: str, video: str, start: int, end: int) -> str:
    """An encode job written as `render add --encode` would, through the format's writers."""
    job = "enc-0badf00d"
    info = ChunkInfo(job=job, chunk=f"{job}-0001", index=1, kind="encode", argv=[], start=start, end=end, step=1,
                     max_attempts=1, encode={"frames": frames, "fps": 24.0, "container": "mp4", "video": video})
    manifest = Manifest.from_dict({"format": 1, "job": job, "kind": "encode", "frames": end - start + 1,
                                   "chunks": [{"chunk": info.chunk, "start": start, "end": end, "step": 1}]})
    Spool.open(spool, create=True).submit(manifest, [info])
    return job


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (tests/bootstrap installs it)")
def test_an_encode_frame_planted_as_a_link_fails_the_chunk_and_is_never_read(
    spool: Path, markers: Path, tmp_path: Path, start_daemon: Any
) -> None:
    frames = spool / "shots" / "frames"
    frames.mkdir(parents=True)
    for n in (1, 3):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=32x18:d=0.04",
                        "-frames:v", "1", "-y", str(frames / f"shot_{n:04d}.png")], check=True, timeout=120)
    secret = tmp_path / "secret.png"
    shutil.copy(frames / "shot_0001.png", secret)
    (frames / "shot_0002.png").symlink_to(secret)
    (frames / "shot.mp4").symlink_to(tmp_path / "victim.mp4")  # a link planted at the video's name
    job = _encode_job(spool, "shots/frames/shot_####.png", "shot.mp4", 1, 3)
    daemon = start_daemon("a", *FAST)
    waited = render(spool, "wait", job, "--timeout", "120", check=False)
    assert waited.returncode == 1, waited.stderr
    reason = (spool / "failed" / f"{job}-0001.info.reason").read_text()
    assert "frame 2" in reason, reason
    assert not (tmp_path / "victim.mp4").exists() and (frames / "shot.mp4").is_symlink()
    assert not any(p.name.startswith(".renderd-") for p in frames.iterdir())
    served(spool, markers, daemon, "good")


def test_an_encode_chunk_whose_video_reads_as_an_option_is_quarantined(
    spool: Path, markers: Path, start_daemon: Any
) -> None:
    job = _encode_job(spool, "shots/frames/shot_####.png", "shot.mp4", 1, 2)
    [path] = (spool / "queue").rglob("*.info")
    data = json.loads(path.read_text())
    data["encode"]["video"] = "-y.mp4"
    path.write_text(json.dumps(data))
    daemon = start_daemon("a", *FAST)
    wait_for(lambda: any((spool / "bad").glob(f"{job}-0001.info*.reason")), 120, what="the quarantine")
    served(spool, markers, daemon, "good")
