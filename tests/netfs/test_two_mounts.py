"""One spool, two mounts (sshfs over 127.0.0.1): claims stay exclusive although locks are per mount.

Host A and host B see the same folder through separate sshfs mounts with their own caches;
`flock` taken through one mount does not stop a taker on the other, exactly like NFS clients
with `local_lock` (or a server without a lock manager).  renderd must stay correct anyway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock
from helpers.daemons import Daemon, add_job, leftover_info_files, processes_mentioning, render, wait_for

from netfs.conftest import TwoMounts
from renderd.format.info import ChunkInfo
from renderd.format.names import ClaimName

pytestmark = [pytest.mark.netfs, pytest.mark.slow]

FAKEPROG = str(Path(__file__).parent.parent / "helpers" / "fakeprog.py")
RACER = str(Path(__file__).with_name("claim_racer.py"))
COMMON = ("--allow-commands", "--when", "always", "--poll", "0.5")
RACES = 200


def _lines(path: Path) -> list[list[str]]:
    try:
        return [line.split() for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def _leftovers(spool: Path) -> list[Path]:
    """Files left in queue/ and claimed/, except the file system's own: a FUSE mount renames a file
    unlinked while another process on that mount has it open (a heartbeat being read) to
    .fuse_hidden*, like NFS's .nfs*; renderd ignores such names (docs/netfs.md)."""
    return [p for p in leftover_info_files(spool) if not p.name.startswith((".fuse_hidden", ".nfs"))]


def _claims(folder: Path) -> list[ClaimName]:
    return [c for c in map(ClaimName.parse, os.listdir(folder)) if c is not None]


def test_four_daemons_on_two_mounts_run_every_chunk_exactly_once(  # type: ignore[no-untyped-def]
    shared_mounts: TwoMounts, markers: Path, start_daemon
) -> None:
    two_mounts = shared_mounts
    on_a, on_b = two_mounts.both("farm")
    # a generous lease: this test is about claiming, and no daemon dies in it
    hosts = {
        name: start_daemon(name, *COMMON, "--lease", "20", spool_path=on_a if name.startswith("a") else on_b)
        for name in ("a1", "b1", "a2", "b2")
    }
    # submitted through B: A's daemons only learn of it by polling (inotify misses other clients)
    job = add_job(on_b, "1-100", [sys.executable, FAKEPROG, str(markers), "c{start}", "--sleep", "0.2"], "--chunk", "1")
    waited = render(on_a, "wait", job["job"], "--timeout", "600", check=False, timeout=660)  # idle-priority chunks
    assert waited.returncode == 0, waited.stderr
    for d in hosts.values():
        assert d.stop() == 0, d.output()[-3000:]

    done_dir = two_mounts.export / "farm" / "jobs" / job["job"] / "done"
    done = {p.stem: json.loads(p.read_text()) for p in done_dir.iterdir()}
    assert sorted(done) == sorted(c["chunk"] for c in job["chunks"])
    for c in job["chunks"]:
        label, rec = f"c{c['start']}", done[c["chunk"]]
        starts, runs = _lines(markers / f"{label}.starts"), _lines(markers / f"{label}.runs")
        assert len(starts) == 1 and len(runs) == 1, f"{label} ran {len(starts)} times: {starts}"
        assert runs[0][3] == rec["host"] and rec["run"] == 1, rec
        assert not (markers / f"{label}.double").exists()
    by_mount = {m: sum(1 for r in done.values() if r["host"].startswith(m)) for m in "ab"}
    assert by_mount["a"] > 0 and by_mount["b"] > 0, f"both mounts must have claimed chunks: {by_mount}"
    assert _leftovers(two_mounts.export / "farm") == []
    assert list((two_mounts.export / "farm" / "bad").iterdir()) == []  # .fuse_hidden* ignored, not quarantined
    assert _claims(on_b / "claimed") == [] and _claims(on_a / "claimed") == []
    assert not processes_mentioning(str(markers))


def test_flock_does_not_cross_mounts_but_renderd_claims_have_one_winner(two_mounts: TwoMounts) -> None:
    # the premise: a FileLock held through A stops a taker through A, not one through B
    take_lock = (
        "import sys\nfrom filelock import FileLock, Timeout\n"
        "try:\n    FileLock(sys.argv[1], timeout=0).acquire()\nexcept Timeout:\n    print('blocked')\n"
        "else:\n    print('acquired')\n"
    )
    (two_mounts.export / "premise.lock").touch()
    with FileLock(two_mounts.a / "premise.lock", timeout=5):
        same = subprocess.run(
            [sys.executable, "-c", take_lock, str(two_mounts.a / "premise.lock")], capture_output=True
        )
        other = subprocess.run(
            [sys.executable, "-c", take_lock, str(two_mounts.b / "premise.lock")], capture_output=True
        )
    assert same.stdout.decode().strip() == "blocked", same.stderr.decode()
    assert other.stdout.decode().strip() == "acquired", other.stderr.decode()

    # renderd's claim of one queued file, through both mounts at the same instant: one winner
    on_a, on_b = two_mounts.both("race")
    job = add_job(on_a, f"1-{RACES}", ["true"], "--chunk", "1")
    qdir = next((two_mounts.export / "race" / "queue").iterdir()).name
    racers = {
        host: subprocess.Popen(
            [sys.executable, RACER, str(spool), host], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for host, spool in (("hostA", on_a), ("hostB", on_b))
    }
    wins = {host: 0 for host in racers}
    try:
        for c in job["chunks"]:
            t0 = time.time() + 0.05
            for host, proc in racers.items():
                spool = on_a if host == "hostA" else on_b
                assert proc.stdin is not None
                proc.stdin.write(f"{spool / 'queue' / qdir / (c['chunk'] + '.info')} {c['chunk']} {t0}\n")
                proc.stdin.flush()
            results = {}
            for host, proc in racers.items():
                assert proc.stdout is not None
                results[host] = proc.stdout.readline().strip()
            assert sorted(results.values()) == ["lost", "won"], f"{c['chunk']}: {results}"
            wins[next(h for h, r in results.items() if r == "won")] += 1
    finally:
        for proc in racers.values():
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(30)
    claimed = _claims(two_mounts.export / "race" / "claimed")
    assert sorted(c.chunk for c in claimed) == sorted(c["chunk"] for c in job["chunks"])
    assert {h: sum(1 for c in claimed if c.host == h) for h in wins} == wins
    assert all((two_mounts.export / "race" / "claimed" / f"{c.filename}.hb").is_file() for c in claimed)
    assert list((two_mounts.export / "race" / "queue" / qdir).iterdir()) == []
    # both really raced: each mount won some (a one-sided result would mean no race happened)
    assert min(wins.values()) > 0, wins
    print(f"claim races through two mounts: {wins}")


def test_lease_of_a_daemon_killed_on_mount_a_is_recovered_through_mount_b(  # type: ignore[no-untyped-def]
    shared_mounts: TwoMounts, markers: Path, start_daemon
) -> None:
    two_mounts = shared_mounts
    lease = 3.0
    on_a, on_b = two_mounts.both("lease")
    job = add_job(on_a, "1-1", [sys.executable, FAKEPROG, str(markers), "c1", "--sleep", "6"])
    chunk = job["chunks"][0]["chunk"]
    a1 = start_daemon("a1", *COMMON, "--lease", str(lease), spool_path=on_a)
    first = wait_for(lambda: _lines(markers / "c1.starts"), 60, what="a1 to start the chunk")
    assert first[0][2] == "a1"
    b1: Daemon = start_daemon("b1", *COMMON, "--lease", str(lease), spool_path=on_b)
    killed_at = time.time()
    a1.kill()
    # a1's program dies with it (no orphan keeps writing frames) ...
    wait_for(lambda: not processes_mentioning(str(markers)), 30, what="a1's chunk program to die with it")
    # ... and b1 re-queues the chunk once the lease ran out, then runs it itself
    claimed = two_mounts.export / "lease" / "claimed"
    # b1's run claim has a heartbeat; the one-instant claim it makes to recover a1's has none
    mine = wait_for(
        lambda: [c for c in _claims(claimed) if c.host == "b1" and (claimed / f"{c.filename}.hb").exists()],
        60,
        what="b1's claim",
    )
    info = ChunkInfo.from_bytes((claimed / mine[0].filename).read_bytes())
    assert (info.requeues, info.attempts) == (1, 0), info.history
    requeued = [h for h in info.history if h["event"] == "requeued"]
    assert len(requeued) == 1 and requeued[0]["host"] == "b1"
    assert requeued[0]["reason"] == f"lease of a1 (pid {a1.pid}) expired"
    # not before the lease: a1's last heartbeat was at most a quarter lease before the kill
    assert requeued[0]["time"] >= killed_at + lease * 3 / 4 - 0.1, (requeued, killed_at)
    waited = render(on_b, "wait", job["job"], "--timeout", "300", check=False, timeout=360)
    assert waited.returncode == 0, waited.stderr
    assert b1.stop() == 0

    rec = json.loads((two_mounts.export / "lease" / "jobs" / job["job"] / "done" / f"{chunk}.json").read_text())
    assert (rec["host"], rec["run"], rec["requeues"], rec["attempts"]) == ("b1", 2, 1, 0), rec
    starts, runs = _lines(markers / "c1.starts"), _lines(markers / "c1.runs")
    assert [s[2] for s in starts] == ["a1", "b1"] and [r[3] for r in runs] == ["b1"]
    assert not (markers / "c1.double").exists()
    assert f"re-queued {chunk}: lease of a1 (pid {a1.pid}) expired -> queued" in b1.output()
    assert _leftovers(two_mounts.export / "lease") == []
