"""The README's first command, spool_example/run, works end to end and leaves finished frames."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.blender,
    pytest.mark.skipif(shutil.which("blender") is None, reason="needs the `blender` program (CI installs it)"),
]


def test_spool_example_run_renders_every_frame(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERD")}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(
        [str(ROOT / "spool_example" / "run")], capture_output=True, text=True, env=env, timeout=1200, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"^== (\d+) frames in (\S+):$", proc.stdout, re.MULTILINE)
    assert found is not None, proc.stdout
    frames = sorted(Path(found[2]).glob("demo_*.png"))
    assert int(found[1]) == len(frames) == 24
    assert [f.name for f in frames] == [f"demo_{n:04d}.png" for n in range(1, 25)]
    assert all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in frames)
    assert Path(found[2]).is_relative_to(tmp_path)  # a temporary copy, never the checked-in example
    assert "done" in proc.stdout and "all 4 chunk(s) done" in proc.stderr
    assert not list((ROOT / "spool_example" / "spool").glob("jobs"))
