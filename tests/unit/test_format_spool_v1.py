"""A spool written by the renderd of format 1 (tests/fixtures/spool_v1, made by make_spool_v1.py on
2026-12-01) reads through today's format layer with the values it was written with."""

from __future__ import annotations

from pathlib import Path

from renderd.format.info import ChunkInfo
from renderd.format.names import ClaimName, QueueDir

V1 = Path(__file__).parent.parent / "fixtures" / "spool_v1"
BLEND, DONE, FAILED = "shot-b3186473", "ok-09fc27b7", "bad-bfa2ce20"
CANCELLED, RUNNING = "gone-2752618e", "long-fe304044"


def read_info(path: Path) -> ChunkInfo:
    return ChunkInfo.from_bytes(path.read_bytes(), path.name)


def test_queued_blender_chunks_read_with_their_fields() -> None:
    [qdir_path] = [p for p in (V1 / "queue").iterdir() if any(p.iterdir())]
    qdir = QueueDir.parse(qdir_path.name)
    assert qdir is not None and (qdir.job, qdir.priority, qdir.submitted_ms) == (BLEND, 50, 1796114134017)
    first, second = (read_info(p) for p in sorted(qdir_path.iterdir()))
    assert (first.chunk, first.kind, first.start, first.end, first.step) == (f"{BLEND}-0001", "blender", 1, 2, 1)
    assert (second.start, second.end) == (3, 4)
    assert first.blender == {"file": "shot.blend", "scene": "Shot", "extra": [], "after": [], "trust_scripts": False,
                             "version": [3, 4], "output": "frames/shot_####.png", "movie": False}
    assert (first.owner, first.uid, first.priority, first.max_attempts) == ("root", 0, 50, 3)
    assert [h["event"] for h in first.history] == ["queued"]


def test_claimed_chunk_and_its_name_read() -> None:
    [claimed] = [p for p in (V1 / "claimed").iterdir() if not p.name.endswith(".hb")]
    claim = ClaimName.parse(claimed.name)
    assert claim is not None and (claim.chunk, claim.host, claim.job) == (f"{RUNNING}-0001", "fx1", RUNNING)
    info = read_info(claimed.with_name(claimed.name))
    assert (info.argv, info.start, info.end) == (["sleep", "600"], 7, 7)
    assert claimed.with_name(claimed.name + ".hb").read_bytes() == b"0" * 20 + b"\n"


def test_failed_chunk_reads_with_its_attempt_and_host() -> None:
    info = read_info(V1 / "failed" / f"{FAILED}-0001.info")
    assert (info.attempts, info.max_attempts, info.failed_hosts, info.argv) == (1, 1, ["fx1"], ["false"])
    assert [h["event"] for h in info.history] == ["queued", "failed"]
    assert (V1 / "failed" / f"{FAILED}-0001.info.reason").read_text() == "failed 1 times; last: exit code 1\n"
