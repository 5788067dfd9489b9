from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

from helpers.daemons import Daemon

# Speed is measured in bench/, never in tests: no deadlines or "too slow" checks on a shared machine.
settings.register_profile("renderd", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("renderd")

FAKEPROG = str(Path(__file__).parent / "helpers" / "fakeprog.py")


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    path = tmp_path / "spool"
    path.mkdir()
    return path


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[Daemon]]:
    """Collects the daemons a test starts and makes sure none outlives it."""
    started: list[Daemon] = []
    yield started
    for d in started:
        if d.alive():
            d.kill()
        d.remove_socket()


@pytest.fixture
def start_daemon(spool: Path, tmp_path: Path, daemons: list[Daemon]):  # type: ignore[no-untyped-def]
    def start(name: str, *args: str, spool_path: Path | None = None) -> Daemon:
        d = Daemon(spool_path or spool, name, tmp_path, args)
        daemons.append(d)  # before start(): a daemon that fails to register is still killed at the end
        return d.start()

    return start
