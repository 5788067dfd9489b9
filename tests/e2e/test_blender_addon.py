"""The Blender add-on in real Blender (background mode): install the zip, enable it, send a file."""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.daemons import BIN, processes_mentioning, render, wait_for
from helpers.dbus import NOTIFYD, private_bus

HERE = Path(__file__).parent
FIXTURE = HERE.parent / "fixtures" / "blend" / "render_b34.blend"
ADDON = HERE.parents[1] / "render_frontend" / "blender_addon" / "__init__.py"

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(shutil.which("blender") is None, reason="needs the `blender` program (CI installs it)"),
]


def send_from_blender(spool: Path, tmp_path: Path, *mode: str,
                      env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Open a copy of the fixture in real Blender, install and enable the add-on zip, press its buttons."""
    blend = spool / "shots" / "shot.blend"
    blend.parent.mkdir()
    shutil.copy(FIXTURE, blend)
    zip_path = Path(render(spool, "addon", "build", "--output", str(tmp_path)).stdout.strip())
    out = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERD")}
    env.update(BLENDER_USER_SCRIPTS=str(tmp_path / "scripts"), BLENDER_USER_CONFIG=str(tmp_path / "config"))
    env.update(env_extra or {})
    argv = ["blender", "-b", str(blend), "--factory-startup", "--python", str(HERE / "addon_driver.py"), "--"]
    proc = subprocess.run(
        [*argv, str(zip_path), str(BIN / "render"), str(spool), str(out), *mode],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    assert result["submit"] == ["FINISHED"] and result["refresh"] == ["FINISHED"]
    assert not result["is_dirty"]  # the file was saved before it was sent
    assert result["unsaved"].startswith("Error: Save the file first")
    return result


def test_send_to_renderd_queues_the_open_file(spool: Path, tmp_path: Path) -> None:
    result = send_from_blender(spool, tmp_path)
    assert not {"click", "filelock", "blender_asset_tracer"} & {m.split(".")[0] for m in result["modules"]}

    job = result["last_job"]
    status = json.loads(render(spool, "status", job, "--json").stdout)["jobs"][0]
    assert status["priority"] == 70 and status["chunks"]["total"] == 3 and status["chunks"]["queued"] == 3
    queued = sorted(p.name for p in (spool / "queue").rglob("*.info"))
    assert queued == [f"{job}-{n:04d}.info" for n in (1, 2, 3)]
    assert result["readout"][0] == f"{job}: queued"
    assert result["readout"][1].startswith("chunks 0/3 done, 0 running, 3 queued")
    assert result["readout"][-1] == "hosts: 0 live, 0 busy, 0 offline"
    assert result["waiters"] == []  # "Notify when done" is off by default


def test_notify_when_done_shows_a_desktop_notification_when_the_job_ends(
        spool: Path, tmp_path: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    record = tmp_path / "notifications.jsonl"
    with private_bus(tmp_path) as address:
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
        service = subprocess.Popen([sys.executable, NOTIFYD, str(record)], stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert service.stdout is not None and service.stdout.readline().strip() == "ready"
            result = send_from_blender(spool, tmp_path, "notify", env_extra={"DBUS_SESSION_BUS_ADDRESS": address})
            job = result["last_job"]
            assert result["waiters"] == [[str(BIN / "render"), "--spool", str(spool), "wait", job, "--notify"]]
            start_daemon("farm", "--when", "always", "--poll", "0.5")  # Blender has quit; the waiter goes on
            calls = wait_for(lambda: record.exists() and record.read_text().splitlines(), 600,
                             what="the notification")
        finally:
            service.kill()
            service.wait(10)
            for pid in processes_mentioning(str(spool)):  # a waiter left by a failed test
                if "--notify" in processes_mentioning(str(spool))[pid]:
                    os.kill(pid, signal.SIGKILL)
    assert [json.loads(c)["summary"] for c in calls] == [f"{job} is done"]


def test_farm_status_follows_the_job_until_it_is_done(spool: Path, tmp_path: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("farm", "--when", "always", "--poll", "0.5")
    result = send_from_blender(spool, tmp_path, "follow")
    job = result["last_job"]
    assert result["followed"][0] == f"{job}: done"
    assert result["followed"][1] == "chunks 3/3 done, 0 running, 0 queued, 0 failed"
    assert result["followed"][2].startswith("hosts: 1 live, ")  # busy or idle: its record lags a moment
    assert result["ticks"] >= 2  # a refresh runs in the background and is polled, never waited for
    assert sorted(p.name for p in (spool / "shots" / "frames").iterdir()) == [f"shot_{n:04d}.png" for n in (1, 2, 3)]


def test_the_addon_imports_only_what_blender_has() -> None:
    tree = ast.parse(ADDON.read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= {"bpy", "json", "os", "shutil", "subprocess", "tempfile", "typing"}
