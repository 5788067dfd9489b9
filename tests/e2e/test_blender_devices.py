"""`renderd --list-gpus` and `--device` with the real Blender (Debian's 3.4, CPU only here)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.daemons import BIN

from renderd.kinds.blender import build_argv

BLEND = Path(__file__).parent.parent / "fixtures" / "blend"
pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(shutil.which("blender") is None, reason="needs the `blender` program (CI installs it)"),
]
FIELDS = {"scene": "Shot", "extra": ["-t", "1"], "after": []}


def test_list_gpus_asks_blender_and_says_plainly_that_only_the_cpu_is_here() -> None:
    text = subprocess.run([str(BIN / "renderd"), "--list-gpus"], capture_output=True, text=True, timeout=120)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("CPU ") and lines[-1] == "no GPU: Cycles can render only on the CPU on this host"
    as_json = subprocess.run([str(BIN / "renderd"), "--list-gpus", "--json"], capture_output=True, text=True,
                             timeout=120)
    data = json.loads(as_json.stdout)
    assert data["gpu"] is False and data["specs"] == ["CPU"]


def test_a_cpu_device_renders_and_a_missing_gpu_fails_the_run_instead_of_using_the_cpu(tmp_path: Path) -> None:
    blender = shutil.which("blender")
    assert blender is not None
    blend = tmp_path / "r.blend"
    shutil.copy(BLEND / "render_b34.blend", blend)
    out = tmp_path / "out" / "f_####.png"
    cpu = subprocess.run(build_argv(blender, str(blend), FIELDS, 1, 1, 1, str(out), "CPU"), capture_output=True,
                         text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert cpu.returncode == 0, cpu.stdout[-2000:]
    assert "renderd: rendering on the CPU" in cpu.stdout
    assert (tmp_path / "out" / "f_0001.png").read_bytes()[:4] == b"\x89PNG"
    gpu = subprocess.run(build_argv(blender, str(blend), FIELDS, 2, 2, 1, str(out), "CUDA:0"), capture_output=True,
                         text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert gpu.returncode == 1
    assert "RENDERD-DEVICE-ERROR no CUDA:0 device on this host" in gpu.stdout
    assert not (tmp_path / "out" / "f_0002.png").exists()


def test_a_daemon_asked_for_a_gpu_this_host_lacks_exits_in_one_line(spool: Path) -> None:
    proc = subprocess.run([str(BIN / "renderd"), "--spool", str(spool), "--device", "CUDA:0", "--when", "always"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("Error: --device: --device CUDA:0: no such device on "
                                                           "this host (it has: CPU;")
