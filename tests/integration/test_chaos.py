"""Chaos: daemons and chunk programs die by SIGKILL while a job runs.

Three daemons share one spool; every few seconds the test kills a random daemon with SIGKILL
(and restarts it under the same name, at once or after its lease ran out) or kills a running
chunk program.  At the end nothing is lost, no chunk ran twice at the same time, every re-run
is explained by a dead lease or a failed attempt, and no chunk program is left running.

The random choices come from a seed printed on failure; RENDERD_CHAOS_SEED=N replays one.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import FAKEPROG
from helpers.daemons import Daemon, add_job, leftover_info_files, processes_mentioning, render, wait_for

from renderd.errors import BadInfoFile
from renderd.format.info import ChunkInfo
from renderd.format.names import ClaimName

pytestmark = pytest.mark.slow

CHUNKS = 150
SLEEP = 0.3
# a few long chunks too, so that a program that outlived its killed daemon would be seen finishing late
LONG_CHUNKS = 6
LONG_SLEEP = 6.0
LEASE = 3.0
NAMES = ("a", "b", "c")
DAEMON_ARGS = ("--allow-commands", "--when", "always", "--lease", str(LEASE), "--poll", "0.5", "--grace", "2")
CHAOS_EVERY = (2.0, 4.0)  # seconds between two kills
MAX_KILLS = 30  # then the farm drains: on a loaded machine the chunks (idle priority) crawl, the kills would not
PROGRAM_KILL_SHARE = 0.35  # the other kills hit a daemon
GIVE_UP = 600.0  # a failure guard only: the jobs take about a minute on an idle machine
ORPHAN_GRACE = 3.0  # a chunk program ends this soon after its daemon is killed (it gets SIGTERM at once)
# A chunk whose hosts vanished 5 times goes to failed/ as a suspected host-killer, by design: the
# chaos spares a daemon whose chunk already lost this many hosts, so that nothing is lost that way.
SPARE_AFTER_REQUEUES = 2

LEASE_RE = re.compile(r"^lease of (?P<host>\S+) \(pid (?P<pid>\d+)\) expired$")
# a live daemon loses a lease only by falling silent for longer than the lease; it logs that
LATE_RE = re.compile(r"renderd\[(?P<pid>\d+)\] WARNING heartbeat of (?P<chunk>\S+) came (?P<gap>[\d.]+)s after")


@dataclass
class Chaos:
    """What the test did, to explain every re-run afterwards."""

    rng: random.Random
    seed: int
    killed_daemons: dict[int, str] = field(default_factory=dict)  # pid -> name
    lives: dict[str, list[list[float]]] = field(default_factory=dict)  # name -> [[started, killed], ...]
    killed_programs: Counter[str] = field(default_factory=Counter)  # chunk label -> kills
    restarts: int = 0
    log: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.log.append(f"{time.monotonic():.2f} {text}")

    def kills(self) -> int:
        return len(self.killed_daemons) + sum(self.killed_programs.values())

    def born(self, name: str) -> None:
        self.lives.setdefault(name, []).append([time.time(), float("inf")])

    def died(self, d: Daemon) -> None:
        self.lives[d.name][-1][1] = time.time()
        self.killed_daemons[d.pid] = d.name
        self.note(f"killed daemon {d.name} (pid {d.pid})")


def _fakeprog_runs(markers: Path) -> dict[int, str]:
    """Running chunk programs of this test: pid -> chunk label (c<start> or L<start>)."""
    out = {}
    for pid, argv in processes_mentioning(str(markers)).items():
        if FAKEPROG in argv:
            i = argv.index(FAKEPROG)
            if len(argv) > i + 2 and argv[i + 1] == str(markers):
                out[pid] = argv[i + 2]
    return out


def _spared(spool: Path, name: str) -> bool:
    """Does daemon `name` hold a chunk that already lost SPARE_AFTER_REQUEUES hosts?"""
    for claim in map(ClaimName.parse, os.listdir(spool / "claimed")):
        if claim is not None and claim.host == name:
            try:
                info = ChunkInfo.from_bytes((spool / "claimed" / claim.filename).read_bytes())
            except (OSError, BadInfoFile):
                continue  # it moved on meanwhile
            if info.requeues >= SPARE_AFTER_REQUEUES:
                return True
    return False


def _kill_program(markers: Path, chaos: Chaos) -> None:
    """SIGKILL one running chunk program, through a pidfd so a recycled pid is never hit."""
    running = _fakeprog_runs(markers)
    if not running:
        return
    pid = chaos.rng.choice(sorted(running))
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if _fakeprog_runs(markers).get(pid) != running[pid]:
            return  # it ended meanwhile and the pid now names something else
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        return
    finally:
        os.close(pidfd)
    chaos.killed_programs[running[pid]] += 1
    chaos.note(f"killed program {running[pid]} (pid {pid})")


def _lines(path: Path) -> list[list[str]]:
    try:
        return [line.split() for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def _overlapping(intervals: list[tuple[float, float]]) -> bool:
    ordered = sorted(intervals)
    return any(nxt[0] < cur[1] for cur, nxt in itertools.pairwise(ordered))


def test_sigkilled_daemons_and_programs_lose_nothing_and_every_rerun_is_explained(  # type: ignore[no-untyped-def]
    spool: Path, markers: Path, start_daemon, tmp_path: Path
) -> None:
    seed = int(os.environ.get("RENDERD_CHAOS_SEED", random.randrange(1 << 30)))
    chaos = Chaos(random.Random(seed), seed)
    jobs = [
        add_job(
            spool,
            f"1-{count}",
            [sys.executable, FAKEPROG, str(markers), prefix + "{start}", "--sleep", str(sleep)],
            "--chunk",
            "1",
            "--max-attempts",
            "50",
            *priority,
        )
        for count, prefix, sleep, priority in (
            (CHUNKS, "c", SLEEP, ()),
            (LONG_CHUNKS, "L", LONG_SLEEP, ("--priority", "60")),  # first, while all three daemons live
        )
    ]
    label = {c["chunk"]: c["argv"][3] for job in jobs for c in job["chunks"]}
    done_dirs = [spool / "jobs" / job["job"] / "done" for job in jobs]
    total = len(label)

    def done_count() -> int:
        return sum(1 for d in done_dirs for p in d.iterdir() if p.suffix == ".json")

    live: dict[str, Daemon] = {}
    for name in NAMES:
        chaos.born(name)
        live[name] = start_daemon(name, *DAEMON_ARGS)
    restart_at: dict[str, float] = {}
    give_up = time.monotonic() + GIVE_UP
    next_kill = time.monotonic() + chaos.rng.uniform(*CHAOS_EVERY)

    def context() -> str:
        return f"seed {seed}; chaos: " + "; ".join(chaos.log[-30:])

    while done_count() < total:
        assert time.monotonic() < give_up, f"only {done_count()}/{total} chunks done; {context()}"
        assert not any((spool / "failed").iterdir()), f"a chunk failed for good; {context()}"
        for name, at in list(restart_at.items()):
            if time.monotonic() >= at:
                del restart_at[name]
                chaos.born(name)
                live[name] = start_daemon(name, *DAEMON_ARGS)
                chaos.restarts += 1
                chaos.note(f"restarted {name} (pid {live[name].pid})")
        if time.monotonic() >= next_kill:
            victims = [n for n in sorted(live) if not _spared(spool, n)]
            if chaos.rng.random() < PROGRAM_KILL_SHARE or len(live) < 2 or not victims:
                _kill_program(markers, chaos)
            else:
                name = chaos.rng.choice(victims)
                victim = live.pop(name)
                victim.kill()
                chaos.died(victim)
                # at once (the new daemon recovers its predecessor's claim) or after the lease (others do)
                restart_at[name] = time.monotonic() + chaos.rng.choice((0.0, LEASE + 1.0))
            next_kill = time.monotonic() + chaos.rng.uniform(*CHAOS_EVERY)
            if chaos.kills() >= MAX_KILLS:
                next_kill = float("inf")
        due = min([next_kill, *restart_at.values()])
        wait_for(
            lambda due=due: done_count() >= total or time.monotonic() >= due,
            timeout=max(1.0, give_up - time.monotonic()),
            interval=0.1,
            what=f"the jobs to finish ({done_count()}/{total} done; {context()})",
        )

    # ---- the farm drains cleanly -------------------------------------------------------------
    for job in jobs:
        waited = render(spool, "wait", job["job"], "--timeout", "60", check=False)
        assert waited.returncode == 0, f"{waited.stderr}; {context()}"
    # a heartbeat left by a daemon killed between two unlinks is swept a lease later
    wait_for(lambda: not leftover_info_files(spool), timeout=60, what=f"an empty claimed/ ({context()})")
    for d in live.values():
        assert d.stop() == 0, d.output()[-2000:]
    assert leftover_info_files(spool) == [], context()
    assert list((spool / "failed").iterdir()) == [] and list((spool / "bad").iterdir()) == [], context()
    wait_for(lambda: not _fakeprog_runs(markers), timeout=30, what="no chunk program left running (orphans)")

    # ---- every chunk is done exactly as recorded, and every re-run is explained --------------
    logs = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("renderd-*.log"))
    stalled = {(int(m["pid"]), m["chunk"]) for m in LATE_RE.finditer(logs) if float(m["gap"]) >= LEASE - 0.05}
    done = {p.stem: json.loads(p.read_text()) for d in done_dirs for p in d.iterdir() if p.suffix == ".json"}
    assert sorted(done) == sorted(label), context()
    doubles: list[str] = []
    reruns = Counter[str]()
    for chunk, rec in sorted(done.items()):
        c = label[chunk]
        where = f"{chunk} ({c}): {json.dumps(rec)}; {context()}"
        starts = _lines(markers / f"{c}.starts")
        runs = [(float(r[0]), float(r[1]), r[3]) for r in _lines(markers / f"{c}.runs")]
        # the recorded run is one that really ran to its end on the recorded host
        assert any(
            host == rec["host"] and rec["started"] - 1 <= s and e <= rec["finished"] + 1 for s, e, host in runs
        ), where
        # no program outlived its daemon (the launcher kills the chunk's whole tree when the daemon dies)
        for s, e, host in runs:
            life = next(life for life in chaos.lives[host] if life[0] <= s <= life[1])
            assert e <= life[1] + ORPHAN_GRACE, f"a run ended {e - life[1]:.1f}s after its daemon died: {where}"
        # counters, history and the run number agree
        history: list[dict[str, Any]] = rec["history"]
        requeued = [h for h in history if h["event"] == "requeued"]
        failed = [h for h in history if h["event"] == "failed"]
        assert len(requeued) == rec["requeues"] and len(failed) == rec["attempts"], where
        assert rec["run"] == 1 + rec["attempts"] + rec["requeues"], where
        assert not [h for h in history if h["event"] not in ("queued", "requeued", "failed")], where
        # each program start belongs to its own run number: nothing started without a claim
        assert len(starts) <= rec["run"], where
        # every lost lease was a dead daemon's (or a live one's that logged its silence past the lease), once
        lost = [LEASE_RE.match(h.get("reason", "")) for h in requeued]
        assert all(m is not None for m in lost), where
        lost_pids = Counter(int(m["pid"]) for m in lost if m is not None)
        assert all(n == 1 or (pid, chunk) in stalled for pid, n in lost_pids.items()), f"recovered twice: {where}"
        silent = [pid for pid in lost_pids if pid not in chaos.killed_daemons]
        assert all((pid, chunk) in stalled for pid in silent), f"lease of a live daemon taken, unexplained: {where}"
        # every failed attempt is a program the test killed (or a clash after an explained lost lease)
        sigkills = [h for h in failed if h.get("reason") == "killed by signal SIGKILL"]
        assert len(sigkills) <= chaos.killed_programs[c], where
        clashes = [h for h in failed if h.get("reason") == "exit code 99"]
        assert len(sigkills) + len(clashes) == len(failed), where
        # never two runs at once, unless a live holder's lease was taken (then it must be in the logs)
        double = (markers / f"{c}.double").exists() or _overlapping([(s, e) for s, e, _ in runs])
        if double or clashes:
            assert silent, f"concurrent runs, unexplained: {where}"
            doubles.append(chunk)
        reruns[c] = rec["run"] - 1
    total_kills = chaos.kills()
    print(
        f"chaos seed {seed}: {len(chaos.killed_daemons)} daemon kills, {sum(chaos.killed_programs.values())} "
        f"program kills, {chaos.restarts} restarts, {sum(reruns.values())} re-runs, "
        f"{len(doubles)} explained double runs"
    )
    assert total_kills >= 5, f"too little chaos to prove anything: {context()}"
    assert sum(reruns.values()) > 0, context()
