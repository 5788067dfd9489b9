"""Issue 10, the format's findings: hostile records (8), counters (11, the counter part) and a job too
large to manifest (14, the manifest part), planted in a real spool against real `renderd` processes.

Each test plants the file, shows that the daemon lives on and serves another job, and that
`render status` / `render top --once` / `render hosts` print one line about it (or leave it out)
instead of a traceback.  Anyone who may write the spool can make these plants, so no second
Unix user is needed here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import FAKEPROG
from helpers.daemons import Daemon, add_job, render, wait_for

from renderd.format.info import ChunkInfo
from renderd.format.manifest import MAX_CHUNKS

DEEP = b"[" * 100_000
DEAD_PID = 4_194_304 + 1  # above the kernel's largest pid: never alive


def served(spool: Path, markers: Path, daemon: Daemon, tag: str) -> None:
    """The daemon still runs a good job to the end, and lives on."""
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), tag])
    assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
    assert (markers / f"{tag}.runs").exists()
    assert daemon.alive() and "Traceback" not in daemon.output()


def front_end_lines(spool: Path) -> dict[str, Any]:
    """status, status --json, top --once and hosts: each exits 0 with no traceback."""
    out = {}
    for args in (("status",), ("status", "--json"), ("top", "--once"), ("hosts",), ("hosts", "--json")):
        proc = render(spool, *args, check=False)
        assert proc.returncode == 0 and "Traceback" not in proc.stdout + proc.stderr, (args, proc.stderr)
        out[" ".join(args)] = proc
    return out


def info_bytes(chunk: str, job: str, **over: Any) -> bytes:
    info = ChunkInfo(job=job, chunk=chunk, index=1, kind="command", argv=["true"], start=1, end=1, step=1)
    return json.dumps(info.as_dict() | over).encode()


def test_deeply_nested_host_record_does_not_stop_a_daemon_from_starting(
    spool: Path, markers: Path, start_daemon: Any
) -> None:
    """Finding 8: `[` x 100 000 in hosts/x.json made every daemon exit at start with RecursionError."""
    (spool / "hosts").mkdir()
    (spool / "hosts" / "x.json").write_bytes(DEEP)
    (spool / "hosts" / "a.json").write_bytes(DEEP)  # under the starting daemon's own name: read at start
    (spool / "hosts" / "y.json").write_text(json.dumps({"format": 1, "name": "y", "load": 5, "heartbeat": "now"}))
    daemon = start_daemon("a", "--allow-commands", "--poll", "0.5")
    served(spool, markers, daemon, "good")
    said = [line for line in daemon.output().splitlines() if "nested deeper than 16 levels" in line]
    assert len([line for line in said if "hosts/a.json" in line]) == 1, said  # why its old record was ignored
    assert len([line for line in said if "hosts/x.json" in line]) <= 5, said  # met on every read: rate-limited
    lines = front_end_lines(spool)
    assert json.loads(lines["hosts --json"].stdout)["hosts"][0]["name"] == "a"  # x and y are left out
    assert (spool / "hosts" / "x.json").read_bytes() == DEEP  # not ours to delete, until its owner says so:
    forgot = render(spool, "host", "forget", "x", check=False)
    assert forgot.returncode == 0 and not (spool / "hosts" / "x.json").exists(), forgot.stderr


def test_deeply_nested_manifest_does_not_stop_claiming_or_render_status(
    spool: Path, markers: Path, start_daemon: Any
) -> None:
    """Finding 8: nesting in a manifest stopped daemons claiming and crashed `render status` for everyone;
    `created` as a string crashed `render top --once`."""
    daemon = start_daemon("a", "--allow-commands", "--poll", "0.5")
    for name, raw in {"evil-1": b'{"format": 1, "job": "evil-1", "chunks": ' + DEEP + b"}",
                      "evil-2": json.dumps({"format": 1, "job": "evil-2", "kind": "command", "created": "yesterday",
                                            "chunks": [{"chunk": "evil-2-0001", "start": 1, "end": 1, "step": 1}]
                                            }).encode()}.items():
        (spool / "jobs" / name).mkdir(parents=True)
        (spool / "jobs" / name / "manifest.json").write_bytes(raw)
    served(spool, markers, daemon, "good")
    lines = front_end_lines(spool)
    said = lines["status"].stderr.splitlines()
    assert [line.split(":")[0] for line in said] == ["evil-1", "evil-2"], said  # one line each
    assert "nested deeper" in said[0] and "'created' must be a number" in said[1]
    top = [line.split() for line in lines["top --once"].stdout.splitlines()]
    assert ["evil-1", "unreadable"] in top and ["evil-2", "unreadable"] in top
    unreadable = json.loads(lines["status --json"].stdout)["unreadable"]
    assert [u["job"] for u in unreadable] == ["evil-1", "evil-2"]
    one = render(spool, "status", "evil-1", check=False)
    assert one.returncode != 0 and one.stderr.count("\n") == 1 and "is unreadable" in one.stderr


def test_a_chunk_of_a_job_whose_manifest_is_unreadable_still_runs(
    spool: Path, markers: Path, start_daemon: Any
) -> None:
    """The manifest is only the owner's word on the job: unreadable, the chunk is judged on its own."""
    daemon = start_daemon("a", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "orphan"])
    (spool / "jobs" / job["job"] / "manifest.json").write_bytes(DEEP)
    wait_for(lambda: (markers / "orphan.runs").exists(), 120, what="the chunk to run")
    assert daemon.alive() and "Traceback" not in daemon.output()


def test_a_4300_digit_requeues_in_a_stale_claim_is_quarantined_not_retried_for_ever(
    spool: Path, markers: Path, start_daemon: Any
) -> None:
    """Finding 11: a 4 300-digit `requeues` raised ValueError on every recovery; the chunk stayed in
    claimed/ for ever under new names."""
    (spool / "claimed").mkdir(parents=True)
    raw = info_bytes("crash-0001", "crash").replace(b'"requeues": 0', b'"requeues": ' + b"7" * 4300)
    name = f"crash-0001.info@a.{DEAD_PID}.0badcafe"
    (spool / "claimed" / name).write_bytes(raw)
    daemon = start_daemon("a", "--allow-commands", "--poll", "0.5")
    bad = wait_for(lambda: [p for p in (spool / "bad").iterdir() if p.name.endswith(".reason")], 60,
                   what="the claim in bad/")
    assert "too many digits" in bad[0].read_text()
    assert os.listdir(spool / "claimed") == []
    served(spool, markers, daemon, "good")


@pytest.mark.parametrize(("over", "words"), [
    ({"max_attempts": 10**9, "cwd": "/nonexistent/shots"}, "'max_attempts' is 1000000000, outside 0-100"),
    ({"attempts": 10**12}, "'attempts' is 1000000000000, outside 0-1000"),
])
def test_huge_counters_in_a_queued_chunk_are_quarantined_at_once(
    spool: Path, markers: Path, start_daemon: Any, over: dict[str, Any], words: str
) -> None:
    """Finding 11: a huge max_attempts with a missing cwd made a busy loop at 87 % CPU."""
    daemon = start_daemon("a", "--allow-commands", "--poll", "0.5")
    staging = spool / "tmp" / "plant"  # written whole, then renamed in: the daemon must not see half a file
    staging.mkdir()
    (staging / "loop-0001.info").write_bytes(info_bytes("loop-0001", "loop", **over))
    staging.rename(spool / "queue" / "949-1796114134017-loop")
    bad = wait_for(lambda: [p for p in (spool / "bad").iterdir() if p.name.endswith(".reason")], 60,
                   what="the chunk in bad/")
    assert words in bad[0].read_text()
    served(spool, markers, daemon, "good")


def test_a_job_over_the_chunk_limit_is_refused_at_add_with_one_line(spool: Path) -> None:
    """Finding 14: a 200 000-chunk job wrote a 19 MB manifest over the 16 MiB read limit, so its owner
    got "no job" and could not cancel it.  Now it is never written."""
    out = render(spool, "add", "--frames", "1-200000", "--chunk", "1", "--", "true", check=False)
    assert out.returncode != 0 and out.stderr.count("\n") == 1, out.stderr
    assert f"a job holds at most {MAX_CHUNKS}" in out.stderr and "Traceback" not in out.stderr
    assert not list((spool / "jobs").glob("*")) if (spool / "jobs").exists() else True
    assert not list((spool / "queue").glob("*")) if (spool / "queue").exists() else True


@pytest.mark.slow
def test_the_largest_job_reads_back_and_its_owner_can_cancel_it(spool: Path) -> None:
    """A job of exactly MAX_CHUNKS chunks: its manifest reads back (status) and `render cancel` works."""
    job = add_job(spool, f"1-{MAX_CHUNKS}", ["true"], "--chunk", "1")
    manifest = spool / "jobs" / job["job"] / "manifest.json"
    assert manifest.stat().st_size < 16 * 1024 * 1024
    status = json.loads(render(spool, "status", job["job"], "--json", timeout=600).stdout)
    assert status["jobs"][0]["chunks"]["total"] == MAX_CHUNKS
    render(spool, "cancel", job["job"], timeout=900)
    status = json.loads(render(spool, "status", job["job"], "--json", timeout=600).stdout)
    assert status["jobs"][0]["state"] == "cancelled" and status["jobs"][0]["chunks"]["queued"] == 0
