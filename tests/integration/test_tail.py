"""`render tail` follows the daemons live: through their sockets, and through the spool's event logs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from conftest import FAKEPROG
from helpers.daemons import BIN, add_job, render, wait_for
from helpers.tail import Tail

from render_frontend.client import Connection
from renderd import protocol


def test_tail_json_sees_a_jobs_events_in_order_from_two_daemons(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    start_daemon("b", "--allow-commands", "--poll", "0.5")
    tail = Tail(spool)
    try:
        wait_for(lambda: {m["host"] for m in tail.messages if m["type"] == "state"} == {"a", "b"}, 30,
                 what="the current state of both daemons")
        job = add_job(spool, "1-4", ["python3", FAKEPROG, str(markers), "c{start}", "--sleep", "1"], "--chunk", "1")
        assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
        chunks = [c["chunk"] for c in job["chunks"]]
        wait_for(lambda: {e["chunk"] for e in tail.events("chunk-finished")} == set(chunks), 30,
                 what="every chunk-finished event")
    finally:
        tail.close()
    events = tail.events()
    for chunk in chunks:
        mine = [e["event"] for e in events if e.get("chunk") == chunk]
        assert mine == ["chunk-claimed", "chunk-started", "chunk-finished"], (chunk, mine)
    assert {e["host"] for e in tail.events("chunk-finished")} == {"a", "b"}
    for host in ("a", "b"):
        times = [e["time"] for e in events if e["host"] == host]
        assert times == sorted(times), f"events of {host} out of order"
    assert all(m["v"] == protocol.VERSION for m in tail.messages)


def test_a_late_client_gets_the_current_state_first(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "5-7", ["python3", FAKEPROG, str(markers), "long", "--sleep", "60"])
    wait_for(lambda: (markers / "long.running").exists(), 30, what="the chunk to run")
    chunk = job["chunks"][0]["chunk"]

    (path,) = protocol.find_sockets(spool)
    conn = Connection(path)
    conn.send("subscribe")
    messages = conn.messages()
    assert next(messages)["ok"] is True
    state = next(messages)
    conn.close()
    assert state["type"] == "state" and state["host"] == "a"
    (running,) = state["chunks"]
    assert (running["chunk"], running["job"], running["start"], running["end"]) == (chunk, job["job"], 5, 7)
    assert running["last"] == "chunk-started" and isinstance(running["pid"], int)

    out = render(spool, "tail", "--json", "--timeout", "5").stdout.splitlines()
    first = json.loads(out[0])
    assert first["type"] == "state" and [c["chunk"] for c in first["chunks"]] == [chunk]
    human = render(spool, "tail", "--timeout", "5").stdout
    assert f"running {chunk} frames 5-7" in human


def test_tail_farm_reads_every_hosts_event_log_from_the_spool(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    start_daemon("b", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-4", ["python3", FAKEPROG, str(markers), "c{start}", "--sleep", "1"], "--chunk", "1")
    assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
    assert sorted(p.name for p in (spool / "events").iterdir()) == ["a.jsonl", "b.jsonl"]
    out = render(spool, "tail", "--farm", "--json", "-n", "1000", "--timeout", "1.5").stdout.splitlines()
    events = [json.loads(line) for line in out]
    finished = {e["chunk"] for e in events if e["event"] == "chunk-finished"}
    assert finished == {c["chunk"] for c in job["chunks"]}
    assert {e["host"] for e in events if e["event"] == "daemon-started"} == {"a", "b"}
    times = [e["time"] for e in events]
    assert times == sorted(times)


def test_failed_chunk_shows_its_last_log_lines(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    tail = subprocess.Popen([str(BIN / "render"), "--spool", str(spool), "tail", "--timeout", "60"],
                            stdout=subprocess.PIPE, text=True)
    try:
        job = add_job(spool, "1-1", ["python3", "-c", "print('the last words'); raise SystemExit(3)"],
                      "--max-attempts", "1")
        assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 1
        assert tail.stdout is not None
        lines: list[str] = []
        wait_for(lambda: lines.append(tail.stdout.readline()) or "the last words" in lines[-1], 30,  # type: ignore[union-attr]
                 what="the failed chunk's log lines")
    finally:
        tail.terminate()
        tail.wait(10)
    assert any("FAILED: exit code 3 -> failed" in line for line in lines)


def test_a_client_that_never_reads_is_dropped_and_the_daemon_keeps_working(spool: Path, markers: Path,
                                                                          start_daemon) -> None:  # type: ignore[no-untyped-def]
    d = start_daemon("a", "--allow-commands", "--poll", "0.5")
    (path,) = protocol.find_sockets(spool)
    hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hung.connect(str(path))
    hung.sendall(protocol.encode(protocol.request("subscribe")))
    dropped = False
    for i in range(100_000):  # asks and asks, and never reads an answer
        try:
            hung.sendall(protocol.encode(protocol.request("state", i + 2)))
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
            break
    assert dropped, "the server kept a client that never reads"
    wait_for(lambda: "dropped socket client" in d.output(), 30, what="the daemon to log the drop")
    job = add_job(spool, "1-5", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "1")
    assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
    hung.close()
    assert protocol.find_sockets(spool) == [path]
    assert render(spool, "tail", "--json", "--timeout", "5").stdout.startswith('{"v": 1, "type": "state"')


def test_hostile_event_logs_do_not_hang_the_daemon_or_tail_farm(spool: Path, markers: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    (spool / "events").mkdir(parents=True)
    os.mkfifo(spool / "events" / "a.jsonl")  # where daemon a will log: a FIFO nobody reads
    os.mkfifo(spool / "events" / "ghost.jsonl")
    (spool / "events" / "junk.jsonl").write_bytes(b"\xff\x00not json\n" + b'{"v": 99, "type": "event"}\n')
    d = start_daemon("a", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "1")
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0
    assert f"cannot append to {spool / 'events' / 'a.jsonl'}" in d.output()
    out = render(spool, "tail", "--farm", "--json", "--timeout", "1", timeout=60)
    assert out.returncode == 0 and out.stdout == ""
