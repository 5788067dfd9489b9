"""`render wait JOB --notify` (render_frontend/notify.py): a desktop notification through the
freedesktop service on a private D-Bus session started by the test, with a stand-in notification
daemon that records the call (tests/helpers/notifyd.py); without a session bus, the bell and one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAKEPROG
from helpers.daemons import BIN, add_job, wait_for
from helpers.dbus import NOTIFYD, private_bus

EVIL_NAME = "shot<b>bold</b>\x1b[31m"


@pytest.fixture
def session_bus(tmp_path: Path) -> Iterator[str]:
    with private_bus(tmp_path) as address:
        yield address


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in changes.items():
        env.pop(key, None)
        if value is not None:
            env[key] = value
    return env


def _wait(spool: Path, job: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "render"), "--spool", str(spool), "wait", job, "--notify", "--timeout", "120"],
                          capture_output=True, text=True, timeout=180, env=env)


def test_render_wait_notify_shows_the_jobs_outcome_on_the_desktop(spool: Path, markers: Path, tmp_path: Path,
                                                                  session_bus: str,
                                                                  start_daemon) -> None:  # type: ignore[no-untyped-def]
    record = tmp_path / "notifications.jsonl"
    env = _env(DBUS_SESSION_BUS_ADDRESS=session_bus)
    service = subprocess.Popen([sys.executable, NOTIFYD, str(record)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert service.stdout is not None and service.stdout.readline().strip() == "ready"
        done = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "c{start}"], "--name", EVIL_NAME)
        failed = add_job(spool, "1-1", [sys.executable, "-c", "import sys; sys.exit(4)"], "--max-attempts", "1")
        start_daemon("a", "--allow-commands", "--poll", "0.5")
        assert _wait(spool, done["job"], env).returncode == 0
        out = _wait(spool, failed["job"], env)
        assert out.returncode == 1
        assert "\a" not in out.stderr and "no desktop notification" not in out.stderr
        calls = wait_for(lambda: record.exists() and [json.loads(line) for line in record.read_text().splitlines()],
                         30, what="two notifications")
    finally:
        service.kill()
        service.wait(10)
    assert len(calls) == 2
    ok, bad = calls
    assert ok["app"] == "renderd" and ok["summary"] == f"{done['job']} is done"
    assert "all 1 chunk(s) done" in ok["body"] and ok["hints"]["urgency"] == 1
    assert "<b>" not in ok["body"] and "&lt;b&gt;" in ok["body"] and "\x1b" not in ok["body"]  # markup shown, not run
    assert bad["summary"] == f"{failed['job']} failed" and "1 failed" in bad["body"] and bad["hints"]["urgency"] == 2


def test_without_a_session_bus_the_bell_and_one_line(spool: Path, markers: Path, tmp_path: Path,
                                                     start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "c{start}"])
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    out = _wait(spool, job["job"], _env(DBUS_SESSION_BUS_ADDRESS=None, XDG_RUNTIME_DIR=str(tmp_path)))
    assert out.returncode == 0
    assert out.stderr.count("\a") == 1
    assert f"{job['job']}: done (no desktop notification: no desktop session bus" in out.stderr


def test_a_bus_without_a_notification_service_falls_back_too(spool: Path, markers: Path, session_bus: str,
                                                             start_daemon) -> None:  # type: ignore[no-untyped-def]
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "c{start}"])
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    out = _wait(spool, job["job"], _env(DBUS_SESSION_BUS_ADDRESS=session_bus))
    assert out.returncode == 0 and out.stderr.count("\a") == 1
    assert "the notification service refused: org.freedesktop.DBus.Error.ServiceUnknown" in out.stderr
