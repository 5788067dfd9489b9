"""A private D-Bus session for the tests (dbus-daemon), and the stand-in notification service."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NOTIFYD = str(Path(__file__).parent / "notifyd.py")


@contextmanager
def private_bus(tmp_path: Path) -> Iterator[str]:
    """A private session bus (dbus-daemon) listening on a socket in the test's folder."""
    program = shutil.which("dbus-daemon")
    if program is None:
        pytest.skip("no dbus-daemon (Debian package dbus-daemon; tests/bootstrap installs it)")
    proc = subprocess.Popen([program, "--session", "--nofork", "--print-address=1",
                             f"--address=unix:path={tmp_path / 'bus'}"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:"), address
        yield address
    finally:
        proc.kill()
        proc.wait(10)
