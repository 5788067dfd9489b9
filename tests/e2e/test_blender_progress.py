"""Real Blender under a real daemon: `render tail` shows its progress, the done record its frames."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.daemons import render, wait_for
from helpers.tail import Tail

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(shutil.which("blender") is None, reason="needs the `blender` program (CI installs it)"),
]

# A scene slow enough (64 Cycles samples, 160x120) that progress is seen while it renders.
MAKE_SCENE = """
import bpy, sys
s = bpy.context.scene
s.render.engine = 'CYCLES'
s.cycles.device = 'CPU'
s.cycles.samples = 64
s.cycles.use_denoising = False
for layer in s.view_layers:
    layer.cycles.use_denoising = False
s.render.resolution_x, s.render.resolution_y, s.render.resolution_percentage = 160, 120, 100
s.frame_start, s.frame_end = 1, 12
s.render.image_settings.file_format = 'PNG'
s.render.filepath = '//frames/progress_####'
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[-1])
"""


def test_real_blender_chunk_reports_progress_events_and_frame_times(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    blend = spool / "shots" / "progress.blend"
    blend.parent.mkdir()
    subprocess.run(["blender", "-b", "--factory-startup", "--python-expr", MAKE_SCENE, "--", str(blend)],
                   check=True, capture_output=True, timeout=120)
    start_daemon("a", "--when", "always", "--poll", "0.5")
    tail = Tail(spool)
    try:
        wait_for(tail.states, 30, what="the daemon's state")
        job = json.loads(render(spool, "add", "--json", str(blend), "--chunk", "12").stdout)
        (chunk,) = [c["chunk"] for c in job["chunks"]]
        waited = render(spool, "wait", job["job"], "--timeout", "300", check=False, timeout=360)
        assert waited.returncode == 0, waited.stderr
        wait_for(lambda: tail.events("chunk-finished"), 30, what="chunk-finished")
    finally:
        tail.close()
    progress = [e for e in tail.events("chunk-progress") if e["chunk"] == chunk]
    assert progress, "no progress event while Blender rendered 12 frames"
    assert all(e["frames_total"] == 12 for e in progress)
    fractions = [e["progress"] for e in progress]
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] <= 1
    assert any(e.get("samples") == 64 or e["frames_done"] > 0 for e in progress)
    done = json.loads((spool / "jobs" / job["job"] / "done" / f"{chunk}.json").read_text())
    assert done["saved"] == [str(spool / "shots" / "frames" / f"progress_{n:04d}.png") for n in range(1, 13)]
    assert len(done["frame_times"]) == 12 and all(t >= 0 for t in done["frame_times"])
    status = json.loads(render(spool, "status", job["job"], "--json", "--frames").stdout)["jobs"][0]
    assert status["frame_time"]["slowest"] == pytest.approx(max(done["frame_times"]), abs=0.001)
    assert status["missing_frames"] == []
    (spool / "shots" / "frames" / "progress_0005.png").unlink()
    status = json.loads(render(spool, "status", job["job"], "--json", "--frames").stdout)["jobs"][0]
    assert status["missing_frames"] == [5], "a vanished file is missing alone (per frame, not per chunk)"
    out = render(spool, "retry", job["job"], "--missing")
    assert "1 chunk(s) back in the queue" in out.stderr
    assert render(spool, "wait", job["job"], "--timeout", "300", check=False, timeout=360).returncode == 0
    assert (spool / "shots" / "frames" / "progress_0005.png").exists()
    status = json.loads(render(spool, "status", job["job"], "--json", "--frames").stdout)["jobs"][0]
    assert status["missing_frames"] == [] and status["chunks"]["done"] == 1
