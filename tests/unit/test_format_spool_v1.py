"""A spool written by the renderd of format 1 (tests/fixtures/spool_v1, made by make_spool_v1.py on
2026-12-01) reads through today's format layer with the values it was written with."""

from __future__ import annotations

import json
from pathlib import Path

from renderd.format.control import HostControl, JobControl
from renderd.format.done import CancelledRecord, DoneRecord
from renderd.format.event import Event
from renderd.format.host import HostRecord
from renderd.format.info import ChunkInfo
from renderd.format.manifest import Manifest
from renderd.format.marker import Marker
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
    assert first.blender == {
        "file": "shot.blend",
        "scene": "Shot",
        "extra": [],
        "after": [],
        "trust_scripts": False,
        "version": [3, 4],
        "output": "frames/shot_####.png",
        "movie": False,
    }
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


def test_manifests_read_with_their_chunks_and_blend_summary() -> None:
    blend = Manifest.from_bytes(
        (V1 / "jobs" / BLEND / "manifest.json").read_bytes(), V1 / "jobs" / BLEND / "manifest.json"
    )
    assert (blend.job, blend.kind, blend.name, blend.owner, blend.uid, blend.priority) == (
        BLEND,
        "blender",
        "shot.blend",
        "root",
        0,
        50,
    )
    assert (blend.created, blend.submitted_ms, blend.frames, blend.max_attempts) == (
        1796114134.017,
        1796114134017,
        4,
        3,
    )
    assert [(c.chunk, c.start, c.end, c.step) for c in blend.chunks] == [
        (f"{BLEND}-0001", 1, 2, 1),
        (f"{BLEND}-0002", 3, 4, 1),
    ]
    assert blend.blend is not None and (blend.blend.file, blend.blend.version, blend.blend.trust_scripts) == (
        "shot.blend",
        (3, 4),
        False,
    )
    assert blend.blender_version == "3.4" and blend.blend.data["scenes"][0]["output"] == "frames/shot_####.png"
    command = Manifest.from_bytes((V1 / "jobs" / DONE / "manifest.json").read_bytes())
    assert (command.kind, command.cwd, command.blend, command.rest["argv"]) == ("command", ".", None, ["true"])
    assert json.loads(command.to_bytes()) == json.loads((V1 / "jobs" / DONE / "manifest.json").read_bytes())
    assert json.loads(blend.to_bytes()) == json.loads((V1 / "jobs" / BLEND / "manifest.json").read_bytes())
    for job in (FAILED, CANCELLED, RUNNING):
        assert Manifest.from_bytes((V1 / "jobs" / job / "manifest.json").read_bytes()).job == job


def test_done_records_read_with_their_times_and_kept_info() -> None:
    path = V1 / "jobs" / DONE / "done" / f"{DONE}-0001.json"
    rec = DoneRecord.from_bytes(path.read_bytes(), path)
    assert (rec.chunk, rec.job, rec.host, rec.run, rec.start, rec.end, rec.frames) == (
        f"{DONE}-0001",
        DONE,
        "fx1",
        1,
        1,
        2,
        2,
    )
    assert (rec.started, rec.finished, rec.seconds) == (1796114134.977, 1796114135.0, 0.023)
    assert rec.info is not None and rec.info.argv == ["true"] and rec.info.cwd == "."
    assert json.loads(rec.to_bytes()) == json.loads(path.read_bytes())


def test_cancelled_records_and_job_controls_read() -> None:
    for i in (1, 2):
        path = V1 / "jobs" / CANCELLED / "cancelled" / f"{CANCELLED}-000{i}.json"
        rec = CancelledRecord.from_bytes(path.read_bytes(), path)
        assert (rec.chunk, rec.by, rec.info is not None and rec.info.index) == (f"{CANCELLED}-000{i}", "uid 0", i)
    cancelled = JobControl.from_bytes((V1 / "jobs" / CANCELLED / "control.json").read_bytes(), uid=0)
    paused = JobControl.from_bytes((V1 / "jobs" / BLEND / "control.json").read_bytes(), uid=0)
    assert (cancelled.cancelled, cancelled.paused, cancelled.holds) == (True, False, True)
    assert (paused.paused, paused.now, paused.cancelled, paused.by) == (True, False, False, "uid 0")


def test_host_record_and_host_control_read() -> None:
    path = V1 / "hosts" / "fx1.json"
    host = HostRecord.from_bytes(path.read_bytes(), path)
    assert (host.name, host.state, host.cpus, host.slots, host.allow_commands, host.allow_scripts) == (
        "fx1",
        "drain",
        2,
        1,
        True,
        False,
    )
    assert (host.heartbeat, host.stale_after, host.load, host.blender_version) == (
        1796114135.189,
        30.0,
        (1.11, 1.15, 0.58),
        "3.4.1",
    )
    assert host.is_live(at=1796114135.189 + 29) and not host.is_live(at=1796114135.189 + 31)
    [chunk] = host.chunks
    assert (chunk.chunk, chunk.job, chunk.start, chunk.end, chunk.suspended) == (
        f"{RUNNING}-0001",
        RUNNING,
        7,
        7,
        False,
    )
    assert json.loads(host.to_bytes()) == json.loads(path.read_bytes())
    control = HostControl.from_bytes((V1 / "hosts" / "fx1.control").read_bytes())
    assert (control.control, control.by) == ("drain", "root@vm")


def test_every_event_line_reads() -> None:
    lines = (V1 / "events" / "fx1.jsonl").read_bytes().splitlines()
    events = [Event.from_line(line) for line in lines]
    assert len(events) == 15 and {e.host for e in events} == {"fx1"}
    assert events[0].event == "daemon-started" and events[0].fields == {"pid": 18779, "slots": 1}
    claimed = next(e for e in events if e.event == "chunk-claimed")
    assert (claimed.chunk, claimed.job, claimed.fields["run"]) == (f"{DONE}-0001", DONE, 1)
    assert [json.loads(line) for line in lines] == [e.as_message() for e in events]


def test_the_marker_reads() -> None:
    marker = Marker.from_bytes((V1 / "renderd-spool.toml").read_bytes())
    assert marker.format == 1 and marker.created_by.startswith("renderd 0.1.0 on ") and marker.created > 1.7e9
    assert Marker.from_bytes(marker.to_text().encode()) == marker
