"""The warm Blender (renderd --warm) with the real Blender 3.4: the same frames as a cold run,
scene switches, a killed or hung warm Blender, suspend and resume, a .blend changed on disk."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.daemons import render, wait_for

ROOT = Path(__file__).resolve().parents[2]
MAKE = ROOT / "bench" / "make_blend.py"
pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(shutil.which("blender") is None, reason="needs the `blender` program (CI installs it)"),
]
DAEMON = ("--when", "always", "--poll", "0.5")


def make_blend(path: Path, size: int = 32, samples: int = 2, frames: int = 6, scenes: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["blender", "-b", "--factory-startup", "--python", str(MAKE), "--", str(path), str(size),
                    str(samples), str(frames), str(scenes)], check=True, capture_output=True, timeout=240)
    return path


def add(spool: Path, blend: Path, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(spool, "add", "--json", str(blend), *args, "--", "-t", "1").stdout)
    return data


def wait(spool: Path, job: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return render(spool, "wait", job, "--timeout", str(timeout), check=False, timeout=timeout + 60)


def logs(spool: Path, job: str) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted((spool / "jobs" / job / "logs").iterdir()))


def warm_pids(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"rendered by a warm Blender \(pid (\d+),", text)]


def pixels(path: Path) -> bytes:
    from PIL import Image

    with Image.open(path) as img:
        return img.tobytes()


def test_warm_frames_match_a_cold_run_in_names_count_and_pixels(
    spool: Path, tmp_path: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    blend = make_blend(spool / "shots" / "w.blend")
    job = add(spool, blend, "--chunk", "2")["job"]
    start_daemon("a", *DAEMON)
    done = wait(spool, job)
    assert done.returncode == 0, done.stderr + logs(spool, job)
    text = logs(spool, job)
    pids = warm_pids(text)
    assert len(pids) == 3 and len(set(pids)) == 1, text[-3000:]  # three chunks, one Blender
    warm = sorted(p.name for p in (spool / "shots" / "a").iterdir())
    cold_dir = tmp_path / "cold"
    subprocess.run(["blender", "-b", str(blend), "-Y", "-t", "1", "-S", "A", "-o", str(cold_dir / "a_####"), "-s", "1",
                    "-e", "6", "-a"], check=True, capture_output=True, timeout=240)
    assert warm == sorted(p.name for p in cold_dir.iterdir()) == [f"a_{n:04d}.png" for n in range(1, 7)]
    for name in warm:
        assert pixels(spool / "shots" / "a" / name) == pixels(cold_dir / name), name


def test_a_chunk_of_another_scene_reloads_the_file_and_renders_that_scene(
    spool: Path, tmp_path: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    blend = make_blend(spool / "shots" / "two.blend", frames=3, scenes=2)
    job = add(spool, blend, "--scene", "A", "--scene", "B", "--chunk", "3")["job"]
    start_daemon("a", *DAEMON)
    done = wait(spool, job)
    assert done.returncode == 0, done.stderr + logs(spool, job)
    text = logs(spool, job)
    assert len(set(warm_pids(text))) == 1
    assert "another scene than the last chunk's ('A')" in text or "another scene than the last chunk's ('B')" in text
    assert "Scene switch for render: 'A'" in text and "Scene switch for render: 'B'" in text
    cold = tmp_path / "cold"
    subprocess.run(["blender", "-b", str(blend), "-Y", "-t", "1", "-S", "B", "-o", str(cold / "b_####"), "-s", "1",
                    "-e", "3", "-a"], check=True, capture_output=True, timeout=240)
    for n in (1, 2, 3):
        b = spool / "shots" / "b" / f"b_{n:04d}.png"
        assert pixels(b) == pixels(cold / b.name)
        assert pixels(b) != pixels(spool / "shots" / "a" / f"a_{n:04d}.png")


def chunk_runs(spool: Path, job: str) -> list[dict[str, Any]]:
    out = []
    for path in sorted((spool / "jobs" / job / "done").glob("*.json")):
        out.append(json.loads(path.read_text()))
    return out


def running_blender(spool: Path, name: str) -> int | None:
    """The pid of the Blender rendering a chunk now, from the host record."""
    try:
        rec = json.loads((spool / "hosts" / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    pids = [c.get("pid") for c in rec.get("chunks", []) if c.get("pid")]
    return int(pids[0]) if pids else None


def frames_started(spool: Path, job: str) -> bool:
    return "Fra:" in logs(spool, job) if (spool / "jobs" / job / "logs").is_dir() else False


@pytest.mark.slow
def test_kill_9_of_the_warm_blender_is_a_failed_attempt_and_the_next_chunk_gets_a_fresh_one(
    spool: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    blend = make_blend(spool / "shots" / "k.blend", size=128, samples=256, frames=8)
    job = add(spool, blend, "--chunk", "4")["job"]
    start_daemon("a", *DAEMON)
    pid = wait_for(lambda: frames_started(spool, job) and running_blender(spool, "a"), 120, what="a warm render")
    os.kill(pid, signal.SIGKILL)
    done = wait(spool, job)
    assert done.returncode == 0, done.stderr + logs(spool, job)
    text = logs(spool, job)
    assert "killed by signal SIGKILL" in text
    pids = warm_pids(text)
    assert pid in pids and len(set(pids)) >= 2  # the chunk after the crash ran in a fresh Blender
    assert len(list((spool / "shots" / "a").glob("a_*.png"))) == 8


@pytest.mark.slow
def test_a_chunk_timeout_kills_the_warm_blender(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    blend = make_blend(spool / "shots" / "t.blend", size=128, samples=1024, frames=20)
    job = add(spool, blend, "--chunk", "20", "--timeout", "4s", "--max-attempts", "1")["job"]
    start_daemon("a", *DAEMON)
    done = wait(spool, job)
    assert done.returncode != 0
    text = logs(spool, job)
    assert "timed out after" in text
    pid = warm_pids(text)[0]
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or _state(pid) == "Z", 60, what="the warm Blender to die")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


@pytest.mark.slow
def test_a_warm_render_is_suspended_and_resumed(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    blend = make_blend(spool / "shots" / "p.blend", size=128, samples=256, frames=8)
    job = add(spool, blend, "--chunk", "8")["job"]
    start_daemon("a", *DAEMON)
    pid = wait_for(lambda: frames_started(spool, job) and running_blender(spool, "a"), 120, what="a warm render")
    render(spool, "pause", job, "--now")
    wait_for(lambda: _state(pid) == "T", 60, what="the warm Blender to be stopped")
    saved = len(list((spool / "shots" / "a").glob("a_*.png")))
    time.sleep(1.5)  # not synchronisation: a stopped Blender must write nothing for a while
    assert len(list((spool / "shots" / "a").glob("a_*.png"))) == saved
    render(spool, "resume", job)
    wait_for(lambda: _state(pid) != "T", 60, what="the warm Blender to run again")
    done = wait(spool, job)
    assert done.returncode == 0, done.stderr + logs(spool, job)
    assert len(list((spool / "shots" / "a").glob("a_*.png"))) == 8
    assert warm_pids(logs(spool, job)) == [pid]


def test_a_blend_changed_on_disk_after_loading_is_reloaded_never_rendered_stale(
    spool: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    blend = make_blend(spool / "shots" / "c.blend", size=32, frames=2)
    first = add(spool, blend, "--chunk", "2")["job"]
    start_daemon("a", *DAEMON)
    assert wait(spool, first).returncode == 0
    make_blend(blend, size=16, frames=2)  # saved again: another size; the warm Blender still holds the old one
    second = add(spool, blend, "--chunk", "2", "--overwrite")["job"]
    done = wait(spool, second)
    assert done.returncode == 0, done.stderr + logs(spool, second)
    text = logs(spool, second)
    assert "the .blend changed on disk since it was loaded" in text
    assert warm_pids(text) == warm_pids(logs(spool, first))  # the same Blender, reloaded
    from PIL import Image

    with Image.open(spool / "shots" / "a" / "a_0001.png") as img:
        assert img.size == (16, 16)


def test_no_warm_runs_each_chunk_in_a_fresh_blender(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    blend = make_blend(spool / "shots" / "n.blend", frames=4)
    job = add(spool, blend, "--chunk", "2")["job"]
    start_daemon("a", *DAEMON, "--no-warm")
    done = wait(spool, job)
    assert done.returncode == 0, done.stderr + logs(spool, job)
    assert warm_pids(logs(spool, job)) == []
    assert len(list((spool / "shots" / "a").glob("a_*.png"))) == 4


def test_a_pre_started_blender_loads_the_first_file_it_is_handed_and_renders_what_a_cold_run_does(
    spool: Path, tmp_path: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    blend = make_blend(spool / "shots" / "pre.blend", frames=4)
    begun = time.time()
    start_daemon("a", *DAEMON, "--warm-prestart")
    wait_for(lambda: "warm runner ready (no file yet)" in "".join(
        p.read_text(errors="replace") for p in Path(tempfile.gettempdir()).glob("renderd-warm-*/0.log")
        if p.stat().st_mtime >= begun), 120, what="a pre-started Blender")
    job = add(spool, blend, "--chunk", "2")["job"]
    done = wait(spool, job)
    assert done.returncode == 0, done.stderr + logs(spool, job)
    text = logs(spool, job)
    assert len(set(warm_pids(text))) == 1 and "Scene switch for render: 'A'" in text
    cold = tmp_path / "cold"
    subprocess.run(["blender", "-b", str(blend), "-Y", "-t", "1", "-S", "A", "-o", str(cold / "a_####"), "-s", "1",
                    "-e", "4", "-a"], check=True, capture_output=True, timeout=240)
    for n in range(1, 5):
        name = f"a_{n:04d}.png"
        assert pixels(spool / "shots" / "a" / name) == pixels(cold / name), name

