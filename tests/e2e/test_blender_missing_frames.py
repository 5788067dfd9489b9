"""Per frame, with the real Blender: a deleted frame shows as that frame missing and re-renders alone;
a Cycles scene with denoising on fails with Blender's own error line and a hint (Debian has no OIDN)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.daemons import render

BLEND = Path(__file__).parent.parent / "fixtures" / "blend"
pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(shutil.which("blender") is None, reason="needs the `blender` program (CI installs it)"),
]
DAEMON = ("--when", "always", "--poll", "0.5")


def _status(spool: Path, job: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(spool, "status", job, "--frames", "--json").stdout)["jobs"][0]
    return data


def test_one_deleted_frame_is_missing_alone_and_re_renders_alone(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    dest = spool / "shots" / "render_b34.blend"
    dest.parent.mkdir(parents=True)
    shutil.copy(BLEND / "render_b34.blend", dest)
    job = json.loads(render(spool, "add", "--json", str(dest)).stdout)["job"]
    start_daemon("a", *DAEMON)
    assert render(spool, "wait", job, "--timeout", "240", check=False, timeout=300).returncode == 0
    frames = spool / "shots" / "frames"
    kept = {n: (frames / f"shot_{n:04d}.png").stat().st_mtime_ns for n in (1, 3)}
    (frames / "shot_0002.png").unlink()
    assert _status(spool, job)["missing_frames"] == [2]
    assert "missing frames: 2" in render(spool, "status", job, "--frames").stdout
    assert "1 chunk(s) back in the queue" in render(spool, "retry", job, "--missing").stderr
    assert render(spool, "wait", job, "--timeout", "240", check=False, timeout=300).returncode == 0
    (done,) = (json.loads(p.read_text()) for p in (spool / "jobs" / job / "done").iterdir())
    assert (done["start"], done["end"], done["frames"]) == (2, 2, 1)  # just the missing frame, not all three
    assert (frames / "shot_0002.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {n: (frames / f"shot_{n:04d}.png").stat().st_mtime_ns for n in (1, 3)} == kept
    after = _status(spool, job)
    assert after["missing_frames"] == [] and after["frames"]["done"] == 3


def test_cycles_denoising_on_debians_blender_fails_with_its_error_line_and_a_hint(
    spool: Path, tmp_path: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    dest = spool / "shots" / "denoise.blend"
    dest.parent.mkdir(parents=True)
    maker = tmp_path / "make.py"
    maker.write_text(
        "import bpy\ns = bpy.context.scene\ns.render.engine = 'CYCLES'\ns.cycles.samples = 2\n"
        "s.cycles.use_denoising = True\ns.render.resolution_x = s.render.resolution_y = 16\n"
        "s.frame_start = s.frame_end = 1\ns.render.filepath = '//frames/dn_####'\n"
        f"bpy.ops.wm.save_as_mainfile(filepath={str(dest)!r})\n"
    )
    subprocess.run(["blender", "-b", "--factory-startup", "-noaudio", "-P", str(maker)], check=True,
                   capture_output=True, timeout=240)
    job = json.loads(render(spool, "add", "--json", "--max-attempts", "1", str(dest)).stdout)["job"]
    start_daemon("a", *DAEMON)
    out = render(spool, "wait", job, "--json", "--timeout", "240", check=False, timeout=300)
    if out.returncode == 0:
        pytest.skip("this Blender has OpenImageDenoiser: nothing to explain")
    (result,) = json.loads(out.stdout)["results"]
    assert "Error: Build without OpenImageDenoiser" in result["reason"]
    assert "(hint: this Blender has no OpenImageDenoiser" in result["reason"]
