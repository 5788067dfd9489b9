"""`renderd --chunk-slice`: the spawner (and so every chunk) starts through `systemd-run --scope`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from helpers.daemons import Daemon, add_job, wait_for

HELPERS = Path(__file__).parents[1] / "helpers"


def done(spool: Path, job: str) -> int:
    return len(list((spool / "jobs" / job / "done").glob("*.json")))


def test_chunks_start_in_the_slice_through_a_scope(spool: Path, tmp_path: Path, daemons: list[Daemon]) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemd-run").symlink_to(HELPERS / "fake_systemd_run.py")
    calls = tmp_path / "systemd-run.calls"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_SYSTEMD_RUN_LOG=str(calls))
    d = Daemon(spool, "sliced", tmp_path, ["--allow-commands", "--chunk-slice", "renderd-chunks.slice"], env=env)
    daemons.append(d.start())
    job = add_job(spool, "1-2", [sys.executable, "-c", "pass"], "--chunk", "1")["job"]
    wait_for(lambda: done(spool, job) == 2, 60, what="both chunks done")
    lines = calls.read_text().splitlines()
    user = [] if os.geteuid() == 0 else ["--user"]
    scope = " ".join([*user, "--scope", "--quiet", "--collect", "--slice=renderd-chunks.slice", "--"])
    assert lines[0] == f"{scope} true"  # the probe
    assert lines[1].startswith(f"{scope} ") and lines[1].endswith(f" -m renderd.spawner {d.pid}")
    assert len(lines) == 2  # one spawner for all chunks
    assert d.stop() == 0


def test_without_systemd_chunks_still_run_and_the_log_says_why(
    spool: Path, tmp_path: Path, daemons: list[Daemon]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemd-run").symlink_to("/bin/false")
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    d = Daemon(spool, "unsliced", tmp_path, ["--allow-commands", "--chunk-slice", "renderd-chunks.slice"], env=env)
    daemons.append(d.start())
    job = add_job(spool, "1-1", [sys.executable, "-c", "pass"])["job"]
    wait_for(lambda: done(spool, job) == 1, 60, what="the chunk done")
    assert d.output().count("--chunk-slice renderd-chunks.slice: systemd-run cannot start a scope there") == 1
    assert d.stop() == 0
