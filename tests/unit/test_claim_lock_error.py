"""The claim's lock file only saves work: when it cannot be taken for an error, the rename decides."""

from __future__ import annotations

from pathlib import Path

from renderd import claim
from renderd.format.info import ChunkInfo
from renderd.format.names import QueueDir
from renderd.spool import Spool


def test_a_lock_file_that_cannot_be_opened_does_not_stop_the_claim(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, create=True)
    qdir = QueueDir.build("job", 50, 1)
    (tmp_path / "queue" / qdir.name).mkdir()
    info = ChunkInfo("job", "job-0001", 1, "command", ["true"], 1, 1, 1)
    queued = spool.queue_path(qdir, info.chunk)
    queued.write_bytes(info.to_bytes())
    # an error other than "held by someone" (sshfs answers EPERM for a lock file a racing winner
    # created and unlinked; here the lock path is a dangling symlink, which filelock will not follow)
    spool.lock_path(info.chunk).symlink_to(tmp_path / "nowhere")

    taken = claim.take(spool, queued, info.chunk, "a")

    assert taken is not None and taken.path.is_file() and taken.heartbeat.is_file()
    assert not queued.exists()
    assert claim.take(spool, queued, info.chunk, "b") is None  # the rename still has one winner


def test_locks_folder_swapped_for_a_link_to_someones_folder_is_not_written_through(tmp_path: Path) -> None:
    (tmp_path / "spool").mkdir()
    spool = Spool.open(tmp_path / "spool", create=True)
    qdir = QueueDir.build("job", 50, 1)
    (spool.root / "queue" / qdir.name).mkdir()
    info = ChunkInfo("job", "job-0001", 1, "command", ["true"], 1, 1, 1)
    queued = spool.queue_path(qdir, info.chunk)
    queued.write_bytes(info.to_bytes())
    victim = tmp_path / "shot"
    victim.mkdir()
    (victim / "job-0001.lock").write_bytes(b"precious")  # a file of someone's that has the lock's name
    (spool.root / "locks").rmdir()
    (spool.root / "locks").symlink_to(victim)  # the claim took, then unlinked, locks/<chunk>.lock through it

    assert claim.take(spool, queued, info.chunk, "a") is not None
    assert (victim / "job-0001.lock").read_bytes() == b"precious"
    assert sorted(p.name for p in victim.iterdir()) == ["job-0001.lock"]
