"""Three daemons share one spool: 200 one-frame chunks each run once, never two at a time, and the
queue ends empty."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import FAKEPROG
from helpers.daemons import add_job, leftover_info_files, render

CHUNKS = 200
SLOTS = 2


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end at t closes before a start at t opens)."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    most = current = 0
    for _, delta in edges:
        current += delta
        most = max(most, current)
    return most


@pytest.mark.slow
def test_three_daemons_run_200_chunks_each_once_and_never_twice_at_a_time(
    spool: Path,
    markers: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    hosts = ("a", "b", "c")
    for name in hosts:
        start_daemon(name, "--allow-commands", "--slots", str(SLOTS), "--poll", "0.5")
    job = add_job(spool, f"1-{CHUNKS}", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "1")
    assert len(job["chunks"]) == CHUNKS

    waited = render(spool, "wait", job["job"], "--timeout", "600", check=False)
    assert waited.returncode == 0, waited.stderr

    assert list(markers.glob("*.double")) == [], "a chunk ran twice at the same time"
    assert list(markers.glob("*.running")) == [], "a run did not end"
    by_host: dict[str, list[tuple[float, float]]] = {h: [] for h in hosts}
    for frame in range(1, CHUNKS + 1):
        lines = (markers / f"c{frame}.runs").read_text().splitlines()
        runs = [(float(s), float(e), host) for s, e, _, host in (line.split() for line in lines)]
        assert max_overlap([(s, e) for s, e, _ in runs]) == 1, f"chunk {frame} ran concurrently: {runs}"
        assert len(runs) == 1, f"chunk {frame} ran {len(runs)} times although no host died"
        for s, e, host in runs:
            by_host[host].append((s, e))
    for host, intervals in by_host.items():
        assert intervals, f"daemon {host} ran nothing"
        assert max_overlap(intervals) <= SLOTS, f"daemon {host} ran more than {SLOTS} chunks at once"

    assert leftover_info_files(spool) == []
    assert list((spool / "failed").iterdir()) == [] and list((spool / "bad").iterdir()) == []
    done = {p.stem: json.loads(p.read_text()) for p in (spool / "jobs" / job["job"] / "done").glob("*.json")}
    assert sorted(done) == sorted(c["chunk"] for c in job["chunks"])
    assert Counter(d["run"] for d in done.values()) == {1: CHUNKS}
    status = json.loads(render(spool, "status", job["job"], "--json").stdout)["jobs"][0]
    assert status["chunks"]["done"] == CHUNKS and status["state"] == "done"
