"""`render burst --slurm N` on a real (private, one-node) Slurm: pilots claim, finish, leave; scancel loses nothing.

The cluster is Debian's slurm-wlm started by the fixture (tests/helpers/slurm.py); the pilots are
real `renderd --pilot` processes started by slurmd from the batch script `render burst` wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.daemons import add_job, render, wait_for
from helpers.slurm import Slurm, why_not

pytestmark = pytest.mark.slow

FAKEPROG = str(Path(__file__).parent.parent / "helpers" / "fakeprog.py")
IDLE_EXIT = 5.0
PILOT_ARGS = ("--renderd-arg=--allow-commands", "--renderd-arg=--min-free-mem=0", "--renderd-arg=--poll=0.5",
              "--renderd-arg=--lease=4")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slurm]:
    reason = why_not()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Slurm tests, but {reason}")
        pytest.skip(f"no private Slurm here: {reason}")
    cluster = Slurm(tmp_path_factory.mktemp("slurm"))
    try:
        try:
            cluster.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as err:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"a private Slurm cannot start here: {err}")
        yield cluster
    finally:
        cluster.stop()


def _burst(slurm: Slurm, spool: Path, *args: str) -> str:
    """`render burst` with the private cluster's SLURM_CONF; returns the Slurm job id."""
    out = subprocess.run([str(Path(sys.executable).with_name("render")), "--spool", str(spool), "burst", *args],
                         capture_output=True, text=True, env=slurm.env(), timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split("Slurm job ")[1].split()[0]


def _done(spool: Path, job: str) -> dict[str, dict[str, object]]:
    folder = spool / "jobs" / job / "done"
    try:
        return {p.stem: json.loads(p.read_text()) for p in folder.iterdir()}
    except (FileNotFoundError, ValueError):
        return {}


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def test_two_pilots_run_every_chunk_and_leave_when_idle(slurm: Slurm, spool: Path, markers: Path) -> None:
    job = add_job(spool, "1-30", [sys.executable, FAKEPROG, str(markers), "c{start}", "--sleep", "0.3"], "--chunk", "1")
    slurm_job = _burst(slurm, spool, "--slurm", "2", "--idle-exit", str(IDLE_EXIT), *PILOT_ARGS)
    script = next((spool / "burst").glob("*/pilot.sbatch"))
    assert "#SBATCH --array=0-1" in script.read_text()  # kept in the spool for inspection

    wait_for(lambda: len(_done(spool, job["job"])) == 30, 300, 0.2, "30 chunks done by the pilots")
    all_done = time.monotonic()
    wait_for(lambda: not slurm.jobs(slurm_job), IDLE_EXIT + 60, 0.2, "both pilots to leave squeue")
    left_after = time.monotonic() - all_done

    pilots = {f"{slurm.node}-{slurm_job}_{task}" for task in (0, 1)}
    done = _done(spool, job["job"])
    assert {str(r["host"]) for r in done.values()} == pilots, "the done records name both pilots"
    for c in job["chunks"]:
        label = f"c{c['start']}"
        assert len(_lines(markers / f"{label}.starts")) == 1 and len(_lines(markers / f"{label}.runs")) == 1, label
        assert not (markers / f"{label}.double").exists()
    # the idle exit plus a poll, a loaded machine's start-up and Slurm's bookkeeping
    assert left_after < IDLE_EXIT + 30, f"pilots left {left_after:.1f} s after the last chunk"

    hosts = json.loads(render(spool, "hosts", "--json").stdout)["hosts"]
    shown = {h["name"]: h for h in hosts}
    assert pilots <= set(shown) and all(shown[p]["state"] == "offline" for p in pilots)
    status = subprocess.run([str(Path(sys.executable).with_name("render")), "--spool", str(spool), "burst",
                             "--status", "--json"], capture_output=True, text=True, env=slurm.env(), timeout=60)
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)["pilots"]
    assert {r["host"] for r in rows} == pilots and all(r["host_state"] == "offline" for r in rows)


def test_a_pilot_cancelled_mid_chunk_loses_nothing(slurm: Slurm, spool: Path, markers: Path) -> None:
    job = add_job(spool, "1-3", [sys.executable, FAKEPROG, str(markers), "c{start}", "--sleep", "6"], "--chunk", "1")
    first = _burst(slurm, spool, "--slurm", "1", "--idle-exit", str(IDLE_EXIT), *PILOT_ARGS)
    started = wait_for(lambda: [p for p in markers.glob("*.starts")], 120, 0.1, "the pilot to start a chunk")
    label = started[0].name.removesuffix(".starts")
    slurm.run("scancel", first, check=True)
    wait_for(lambda: not slurm.jobs(first), 60, 0.2, "the cancelled pilot to leave squeue")

    second = _burst(slurm, spool, "--slurm", "1", "--idle-exit", str(IDLE_EXIT), *PILOT_ARGS)
    wait_for(lambda: len(_done(spool, job["job"])) == 3, 300, 0.2, "every chunk done after the scancel")
    wait_for(lambda: not slurm.jobs(second), IDLE_EXIT + 60, 0.2, "the second pilot to leave")

    done = _done(spool, job["job"])
    assert len(done) == 3
    for c in job["chunks"]:
        runs = _lines(markers / f"c{c['start']}.runs")
        assert len(runs) == 1, f"c{c['start']} ran to its end {len(runs)} times"
        assert not (markers / f"c{c['start']}.double").exists()
    assert len(_lines(markers / f"{label}.starts")) == 2, "the cancelled chunk started again"
    record = done[next(c["chunk"] for c in job["chunks"] if f"c{c['start']}" == label)]
    assert str(record["host"]) == f"{slurm.node}-{second}_0"
    assert [e for e in (spool / "queue").rglob("*.info")] == [] and list((spool / "failed").iterdir()) == []


def test_a_pilot_gives_its_chunk_back_before_the_time_limit(slurm: Slurm, spool: Path, markers: Path) -> None:
    job = add_job(spool, "1", [sys.executable, FAKEPROG, str(markers), "long", "--sleep", "120"])
    began = time.monotonic()
    pilot = _burst(slurm, spool, "--slurm", "1", "--time", "1", "--idle-exit", "30", *PILOT_ARGS,
                   "--renderd-arg=--grace=5")
    wait_for(lambda: _lines(markers / "long.starts"), 120, 0.1, "the pilot to start the long chunk")
    wait_for(lambda: not slurm.jobs(pilot), 180, 0.2, "the pilot to leave")
    log = next((spool / "burst").glob(f"*/pilot-{pilot}_0.log")).read_text()
    assert "leaving: the batch job's time limit is near" in log, log[-3000:]
    # gone before Slurm's own end of the job (60 s after it started), so Slurm killed nothing
    assert time.monotonic() - began < 60 + 20
    (info_path,) = list((spool / "queue").rglob("*.info"))
    info = json.loads(info_path.read_text())
    assert info["attempts"] == 0 and [h["event"] for h in info["history"]][-1] == "returned", info["history"]
    assert not _lines(markers / "long.runs") and _done(spool, job["job"]) == {}
