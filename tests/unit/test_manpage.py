"""The man pages are generated from the click commands and are clean roff."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def test_generated_pages_document_every_option_and_render_cleanly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "render_frontend.manpage", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    renderd, render = (tmp_path / "renderd.1").read_text(), (tmp_path / "render.1").read_text()
    for option in ("\\-\\-spool", "\\-\\-slots", "\\-\\-lease", "\\-\\-config", "\\-\\-print\\-config"):
        assert option in renderd
    for sub in ("render add", "render status", "render wait", "render install\\-service", "render addon build"):
        assert f".SS {sub}" in render
    if shutil.which("groff") is None:
        pytest.skip("groff missing: cannot check the roff")
    for page in ("renderd.1", "render.1"):
        check = subprocess.run(
            ["groff", "-man", "-T", "utf8", "-ww", "-z", str(tmp_path / page)], capture_output=True, text=True
        )
        assert check.returncode == 0 and check.stderr == "", check.stderr
