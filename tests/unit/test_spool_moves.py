"""A chunk's state is where its file is, and every move between states goes through one check."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderd.errors import IllegalTransition
from renderd.format.info import ChunkInfo
from renderd.format.names import ClaimName, QueueDir
from renderd.spool import Spool, state_of
from renderd.states import ChunkState


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    (tmp_path / "spool").mkdir()
    return Spool.open(tmp_path / "spool", create=True)


def queued(spool: Spool, index: int = 1) -> tuple[Path, ChunkInfo]:
    info = ChunkInfo("job", f"job-{index:04d}", index, "command", ["true"], 1, 1, 1)
    qdir = QueueDir.build("job", 50, 1)
    spool.io.mkdir(spool.root / "queue" / qdir.name)
    path = spool.queue_path(qdir, info.chunk)
    path.write_bytes(info.to_bytes())
    return path, info


def test_the_state_is_read_from_the_path(spool: Spool) -> None:
    root = spool.root
    assert state_of(root, root / "queue" / "050-0000000000001-job" / "job-0001.info") is ChunkState.QUEUED
    assert state_of(root, spool.claimed_path(ClaimName("job-0001", "a", 1, "0a1b2c3d"))) is ChunkState.CLAIMED
    assert state_of(root, spool.failed_path("job-0001")) is ChunkState.FAILED
    assert state_of(root, root / "bad" / "x.0a1b2c3d") is ChunkState.BAD
    assert state_of(root, spool.done_path("job", "job-0001")) is ChunkState.DONE
    assert state_of(root, spool.cancelled_path("job", "job-0001")) is ChunkState.CANCELLED
    assert state_of(root, root / "tmp" / "job-0001.info.retry.1.0a1b2c3d") is None  # its taker knows
    assert state_of(root, Path("/elsewhere/queue/q/job-0001.info")) is None


def test_a_queued_chunk_is_claimed_failed_and_retried_through_move(spool: Spool) -> None:
    path, info = queued(spool)
    target = spool.claimed_path(ClaimName.new(info.chunk, "a"))
    assert spool.move(path, ChunkState.CLAIMED, dest=target) == target
    failed = spool.move(target, ChunkState.FAILED, info, reason="exit 3")
    assert failed == spool.failed_path(info.chunk) and spool.failed_reason(info.chunk) == "exit 3"
    assert spool.retry_failed(info.chunk, "me")
    assert [q.job for q in spool.queue_dirs()] == ["job"] and spool.failed_chunks() == []


def test_a_move_the_table_does_not_allow_is_refused_and_nothing_moves(spool: Spool) -> None:
    path, info = queued(spool)
    with pytest.raises(IllegalTransition):
        spool.move(path, ChunkState.FAILED, info, reason="never ran")  # queued -> failed: not in the table
    bad = spool.move(path, ChunkState.BAD, reason="planted")
    assert bad is not None and not path.exists()
    with pytest.raises(IllegalTransition):
        spool.move(bad, ChunkState.QUEUED, info)  # quarantined stays quarantined
    assert bad.exists()


def test_a_file_whose_place_says_no_state_needs_its_taker_to_say(spool: Spool) -> None:
    path, info = queued(spool)
    taken = spool.take_over(path, "cancel")
    assert taken is not None
    with pytest.raises(IllegalTransition, match="must say what it was"):
        spool.move(taken, ChunkState.CANCELLED, info, by="me")
    spool.move(taken, ChunkState.CANCELLED, info, old=ChunkState.QUEUED, by="me")
    assert list(spool.cancelled_chunks("job")) == [info.chunk]
