"""The socket protocol's framing and versions, the daemon's live state, the event log's rotation, access rules."""

from __future__ import annotations

import grp
import json
import os
import pwd
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderd import protocol
from renderd.access import may_change_job
from renderd.eventlog import EventLog
from renderd.livestate import LiveState


def test_messages_round_trip_with_the_version_and_one_line_each() -> None:
    raw = protocol.encode(protocol.request("subscribe", 7))
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert protocol.decode(raw.rstrip(b"\n")) == {"v": 1, "type": "request", "id": 7, "request": "subscribe"}


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b'{"v": 2, "type": "event"}', "protocol version 2 is newer"),
        (b'{"type": "event"}', "no protocol version"),
        (b'{"v": true, "type": "event"}', "no protocol version"),
        (b'{"v": 1, "type": "gossip"}', "unknown message type"),
        (b"[1, 2]", "not a JSON object"),
        (b"\xff\xfe", "not JSON"),
        (b'{"v": 1, "type": "event", "x": "' + b"a" * protocol.MAX_LINE + b'"}', "larger than"),
    ],
)
def test_bad_lines_are_refused_with_a_reason(line: bytes, why: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=why):
        protocol.decode(line)


@given(st.binary(max_size=300))
def test_any_bytes_either_decode_or_raise_a_protocol_error(line: bytes) -> None:
    try:
        message = protocol.decode(line)
    except protocol.ProtocolError:
        return
    assert message["v"] == 1 and message["type"] in protocol.TYPES


def test_socket_paths_differ_per_spool_and_daemon_and_are_found_per_spool(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    one, two = tmp_path / "one", tmp_path / "two"
    paths = {protocol.default_socket_path(s, n) for s in (one, two) for n in ("a", "b")}
    assert len(paths) == 4
    if os.getuid() != 0:
        assert all(p.parent == runtime / "renderd" for p in paths)
    mine = protocol.default_socket_path(one, "gpu0")
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.touch()
    protocol.default_socket_path(two, "gpu0").touch()
    try:
        assert protocol.find_sockets(one) == [mine]
        assert protocol.daemon_of_socket(mine) == "gpu0"
    finally:
        mine.unlink()
        protocol.default_socket_path(two, "gpu0").unlink()


def test_live_state_keeps_running_chunks_and_their_latest_progress() -> None:
    state = LiveState()
    state.apply({"event": "daemon-started", "host": "a", "pid": 5, "slots": 2, "time": 1.0})
    state.apply({"event": "chunk-claimed", "host": "a", "chunk": "j-0001", "job": "j", "start": 1, "end": 3,
                 "time": 2.0})
    state.apply({"event": "chunk-claimed", "host": "a", "chunk": "j-0002", "job": "j", "start": 4, "end": 6,
                 "time": 2.0})
    state.apply({"event": "chunk-progress", "host": "a", "chunk": "j-0001", "progress": 0.5, "frames_done": 1})
    state.apply({"event": "chunk-suspended", "host": "a", "chunk": "j-0001"})
    state.apply({"event": "chunk-finished", "host": "a", "chunk": "j-0002"})
    state.apply({"event": "chunk-requeued", "host": "a", "chunk": "other-0001", "lost_host": "b"})
    snap = state.snapshot()
    assert snap["daemon"]["pid"] == 5
    (chunk,) = snap["chunks"]
    assert (chunk["chunk"], chunk["progress"], chunk["suspended"], chunk["last"]) == ("j-0001", 0.5, True,
                                                                                      "chunk-suspended")


def test_event_log_rotates_and_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = EventLog(path, max_bytes=1000, keep=3)
    for i in range(100):
        log({"event": "chunk-progress", "host": "a", "n": i})
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a.jsonl", "a.jsonl.1", "a.jsonl.2", "a.jsonl.3"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    last = [json.loads(line) for line in path.read_text().splitlines()]
    assert last[-1]["n"] == 99 and all(m["v"] == 1 and m["type"] == "event" for m in last)
    older = [json.loads(line)["n"] for line in (tmp_path / "a.jsonl.1").read_text().splitlines()]
    assert older[-1] == last[0]["n"] - 1, "no event lost at a rotation"


def test_a_job_may_be_changed_by_its_owner_root_and_the_admin_group() -> None:
    assert may_change_job(1000, 1000, 1000, [])
    assert may_change_job(0, 0, 1000, [])
    assert not may_change_job(1001, 1001, 1000, [])
    assert not may_change_job(1001, 1001, "1001", [])  # a uid written as a string is not trusted
    nobody = pwd.getpwnam("nobody")
    assert not may_change_job(nobody.pw_uid, nobody.pw_gid, 1000, ["no-such-group-here"])
    group = grp.getgrgid(nobody.pw_gid).gr_name
    assert may_change_job(nobody.pw_uid, nobody.pw_gid, 1000, [group])
