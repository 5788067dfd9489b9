"""`render` loads a sub-command only when it is used, and every module imports on its own.

Each `render` call (every tab completion, each refresh of the Blender add-on) used to import the
spool layer, the daemon's modules, BAT, zstandard and rich.  These tests run real processes and
read the modules they ended with from `python -X importtime` (which lists every module imported).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from render_frontend.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]
# What `render --version` / `render --help` / completion of a command name may import of ours.
LIGHT = {"renderd", "renderd.errors", "renderd.config", "render_frontend", "render_frontend.cli",
         "render_frontend.context", "render_frontend.lazygroup", "render_frontend.terminal",
         "render_frontend.exitcodes"}
HEAVY_THIRD_PARTY = ("blender_asset_tracer", "zstandard", "rich", "watchdog", "filelock")


def imported(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """Modules in sys.modules when `render ARGS` exits (-X importtime misses importlib.import_module), its stdout."""
    out = tmp_path / "modules.txt"
    code = ("import atexit, sys\n"
            f"atexit.register(lambda: open({str(out)!r}, 'w').write(chr(10).join(sys.modules)))\n"
            "from render_frontend.cli import main\nsys.argv[0] = 'render'\nmain()\n")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, **(env or {})))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(out.read_text().split()), proc.stdout


def ours_and_heavy(mods: set[str]) -> set[str]:
    return {m for m in mods if m.split(".")[0] in ("renderd", "render_frontend", *HEAVY_THIRD_PARTY)}


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_import_no_command_spool_daemon_or_bat(args: list[str], tmp_path: Path) -> None:
    mods, out = imported(args, tmp_path)
    assert "render" in out
    assert "click" in mods  # the listing was read at all
    assert ours_and_heavy(mods) <= LIGHT, sorted(ours_and_heavy(mods) - LIGHT)


def test_completing_a_command_name_imports_no_command(tmp_path: Path) -> None:
    env = {"_RENDER_COMPLETE": "bash_complete", "COMP_WORDS": "render st", "COMP_CWORD": "1"}
    mods, out = imported([], tmp_path, env)
    assert out.split() == ["plain,stats", "plain,status"]
    assert ours_and_heavy(mods) <= LIGHT, sorted(ours_and_heavy(mods) - LIGHT)


def test_a_command_job_does_not_import_bat(tmp_path: Path) -> None:
    mods, _ = imported(["--spool", str(tmp_path), "add", "--dry-run", "--frames", "1-2", "--", "true"], tmp_path)
    assert "render_frontend.commands.add" in mods
    assert not {m for m in mods if m.split(".")[0] in ("blender_asset_tracer", "zstandard", "rich")}


def test_the_table_lists_every_command_with_its_own_short_help() -> None:
    ctx = click.Context(cli, info_name="render")
    for name, lazy in COMMANDS.items():
        command = lazy.load(name)
        assert command.name == name
        for limit in (45, 60, 300):
            assert lazy.short(limit) == command.get_short_help_str(limit), (
                f"`render {name}`'s docstring changed: copy its first sentence into COMMANDS in render_frontend/cli.py")
    modules = {f"render_frontend.commands.{p.stem}" for p in (ROOT / "render_frontend" / "commands").glob("*.py")}
    modules.discard("render_frontend.commands.__init__")
    assert modules == {lazy.target.partition(":")[0] for lazy in COMMANDS.values()}, "a command module not in cli.py"
    assert cli.list_commands(ctx) == sorted(COMMANDS)


def test_a_typo_still_suggests_the_command() -> None:
    proc = subprocess.run([sys.executable, "-c", "from render_frontend.cli import main; main()", "priorty"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "No such command 'priorty'. Did you mean 'priority'?" in proc.stderr


def _modules() -> list[str]:
    out = []
    for package in ("renderd", "render_frontend"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            if "blender_addon" in rel.parts:  # runs inside Blender's Python (bpy)
                continue
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out.append(".".join(parts))
    return out


@pytest.mark.slow  # one interpreter per module: about 10 s on two loaded cores
def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    """A cycle at run time shows as an ImportError only when its second module is imported first
    (test_import_contract.py forbids the cycles themselves; this runs what it reasons about)."""
    modules = _modules()
    assert len(modules) > 40
    failed: dict[str, str] = {}
    pending = list(modules)
    running: list[tuple[str, subprocess.Popen[str]]] = []
    while pending or running:
        while pending and len(running) < 2:  # the machine's two cores
            name = pending.pop()
            running.append((name, subprocess.Popen([sys.executable, "-c", f"import {name}"], text=True,
                                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
        name, proc = running.pop(0)
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            failed[name] = err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"
    assert not failed, failed
