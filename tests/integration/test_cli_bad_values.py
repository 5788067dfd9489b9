"""Numbers that would silently break a farm are refused on the command line, in one line, before any file is written."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers.daemons import BIN, render

from renderd.duration import HINT


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "2e9", "20000d"])
def test_render_add_refuses_a_timeout_no_info_file_may_hold(tmp_path: Path, value: str) -> None:
    out = render(tmp_path, "add", "--frames", "1-1", "--timeout", value, "--", "true", check=False)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: Invalid value for '--timeout': "), last
    assert any(words in last for words in ("is not a duration", "must be more than 0s", "must be at most")), last
    assert "Traceback" not in out.stderr and os.listdir(tmp_path) == []


@pytest.mark.parametrize(("option", "value"), [("--poll", "nan"), ("--lease", "inf"), ("--chunk-timeout", "nan")])
def test_renderd_refuses_a_period_that_would_stop_polls_leases_or_time_limits(
    tmp_path: Path, option: str, value: str
) -> None:
    out = subprocess.run(
        [str(BIN / "renderd"), "--spool", str(tmp_path), option, value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last == f"Error: Invalid value for '{option}': {value!r} is not a duration: {HINT}"
    assert "Traceback" not in out.stderr and os.listdir(tmp_path) == []
