"""A setup the user cannot read is one line, not a traceback: ~/.config, the venv (preflight)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.daemons import BIN

from renderd.preflight import problem


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_an_unreadable_config_folder_is_a_warning_and_the_command_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    os.chown(home, 65534, 65534)
    os.chmod(home / ".config", 0)
    os.chmod(tmp_path, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RENDERD", "XDG"))} | {"HOME": str(home)}
    def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(BIN / "render"),
                               "--spool", str(tmp_path), *args], capture_output=True, text=True, timeout=120, env=env,
                              cwd="/")

    out = as_nobody("status")
    assert "Traceback" not in out.stderr
    assert out.stderr.splitlines()[0] == (
        f"Warning: {home}/.config/renderd/config.toml: cannot look for a config file here (Permission denied); skipped")
    out = as_nobody("install-service", "--user", "--dry-run")  # writes below ~/.config: one line too
    assert "Traceback" not in out.stderr and out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == f"Error: {home}/.config/renderd/config.toml: Permission denied"


def test_preflight_names_what_cannot_be_loaded_in_one_line() -> None:
    assert problem("renderd.cli") is None
    said = problem("renderd_no_such_module")
    assert said is not None and "\n" not in said
    assert "ModuleNotFoundError" in said and sys.executable in said
    ok = subprocess.run([sys.executable, "-m", "renderd.preflight"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stderr == ""


def test_the_console_scripts_go_through_the_one_line_loader() -> None:
    for program in ("render", "renderd"):
        text = (BIN / program).read_text()
        assert "from renderd.entry import" in text, text
    unit = (Path(__file__).parents[2] / "systemd" / "renderd.service").read_text()
    assert "ExecStartPre=/usr/local/bin/python3 -m renderd.preflight" in unit
