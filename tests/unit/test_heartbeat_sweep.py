"""A heartbeat left without its claim (its daemon died between two unlinks) is swept after a lease."""

from __future__ import annotations

from pathlib import Path

from renderd.claim import LeaseWatcher
from renderd.format.names import ClaimName
from renderd.spool import Spool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_orphaned_heartbeat_is_removed_after_a_lease_and_a_live_one_never(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, create=True)
    live = ClaimName("job-0001", "a", 4242, "0123abcd")
    orphan = ClaimName("job-0002", "b", 4343, "89abcdef")
    spool.claimed_path(live).write_text("{}")
    spool.heartbeat_path(live).write_text("1\n")
    spool.heartbeat_path(orphan).write_text("7\n")
    (tmp_path / "claimed" / ".nfs000123.hb").write_text("")  # not ours: left alone
    clock = Clock()
    watcher = LeaseWatcher(spool, "c", 10.0, lambda _name: False, clock)

    assert watcher.sweep_heartbeats() == 0  # gone only for an instant: maybe between two unlinks
    clock.now += 9.9
    assert watcher.sweep_heartbeats() == 0
    assert spool.heartbeat_path(orphan).exists()
    clock.now += 0.1
    assert watcher.sweep_heartbeats() == 1
    assert not spool.heartbeat_path(orphan).exists()
    assert spool.heartbeat_path(live).exists() and (tmp_path / "claimed" / ".nfs000123.hb").exists()
    clock.now += 100
    assert watcher.sweep_heartbeats() == 0 and spool.heartbeat_path(live).exists()


def test_a_heartbeat_whose_claim_comes_back_is_forgotten(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, create=True)
    name = ClaimName("job-0001", "a", 4242, "0123abcd")
    spool.heartbeat_path(name).write_text("1\n")
    clock = Clock()
    watcher = LeaseWatcher(spool, "c", 10.0, lambda _name: False, clock)
    assert watcher.sweep_heartbeats() == 0
    spool.claimed_path(name).write_text("{}")  # seen half-way through a claim: it is there after all
    clock.now += 5
    assert watcher.sweep_heartbeats() == 0 and watcher.orphans == {}
    spool.claimed_path(name).unlink()
    assert watcher.sweep_heartbeats() == 0  # the lease counts again from when it went missing
    clock.now += 9.9
    assert watcher.sweep_heartbeats() == 0
    clock.now += 0.1
    assert watcher.sweep_heartbeats() == 1
