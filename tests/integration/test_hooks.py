"""Hooks around a job (docs/hooks.md): pre/post around each chunk, end once per job, error once per
failed chunk; real daemons, a hook program that records each call."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from conftest import FAKEPROG
from helpers.daemons import add_job, render, wait_for

HOOK = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'a').write(' '.join(sys.argv[2:]) + chr(10)); sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)\""  # noqa: E501
BLEND = Path(__file__).parent.parent / "fixtures" / "blend" / "render_b34.blend"
FAKEBLENDER = str(Path(__file__).parent.parent / "helpers" / "fakeblender.py")


def _calls(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_pre_post_and_end_run_around_every_chunk_and_end_once_on_two_hosts(spool: Path, markers: Path, tmp_path: Path,
                                                                          start_daemon) -> None:  # type: ignore[no-untyped-def]
    calls = tmp_path / "calls"
    job = add_job(spool, "1-6", ["python3", FAKEPROG, str(markers), "c{start}"], "--chunk", "2",
                  "--pre", f"{HOOK} {calls} pre {{chunk}} {{start}} {{end}} {{host}}",
                  "--post", f"{HOOK} {calls} post {{chunk}} {{frames}}",
                  "--end", f"{HOOK} {calls} end {{job}} {{start}}-{{end}}")
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    start_daemon("b", "--allow-commands", "--poll", "0.5")
    assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
    wait_for(lambda: any(c.startswith("end") for c in _calls(calls)), 60, what="the end hook")
    calls_now = _calls(calls)
    chunks = [c["chunk"] for c in job["chunks"]]
    pre = sorted(c.split()[1] for c in calls_now if c.startswith("pre "))
    post = sorted(c.split()[1] for c in calls_now if c.startswith("post "))
    assert pre == chunks and post == chunks
    assert f"pre {chunks[1]} 3 4" in " ".join(calls_now)
    assert f"post {chunks[2]} 5-6:1" in calls_now
    ends = [c for c in calls_now if c.startswith("end")]
    assert ends == [f"end {job['job']} 1-6"]
    for c in job["chunks"]:  # the program ran between its chunk's pre and post, once
        assert len((markers / f"c{c['start']}.runs").read_text().splitlines()) == 1
    log = "".join(p.read_text() for p in (spool / "jobs" / job["job"] / "logs").glob(f"{chunks[0]}.*.log"))
    assert "pre" in log and "post argv" in log


def test_the_end_hook_runs_once_when_two_hosts_finish_the_last_chunks_together(
        spool: Path, markers: Path, tmp_path: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    calls = tmp_path / "calls"
    hold = tmp_path / "hold"
    hold.touch()
    jobs = [add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), f"j{i}-{{start}}", "--hold", str(hold)],
                    "--chunk", "1", "--end", f"{HOOK} {calls} end {{job}}") for i in range(3)]
    start_daemon("a", "--allow-commands", "--poll", "0.5", "--slots", "3")
    start_daemon("b", "--allow-commands", "--poll", "0.5", "--slots", "3")
    wait_for(lambda: len(list(markers.glob("*.running"))) == 6, 120, what="every chunk running")
    hold.unlink()  # every chunk ends at the same moment, on both hosts
    for job in jobs:
        assert render(spool, "wait", job["job"], "--timeout", "120", check=False).returncode == 0
    wait_for(lambda: len(_calls(calls)) >= 3, 60, what="three end hooks")
    assert sorted(_calls(calls)) == sorted(f"end {j['job']}" for j in jobs)


def test_a_failing_pre_hook_fails_the_attempt_and_the_error_hook_runs_once(
        spool: Path, markers: Path, tmp_path: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    calls = tmp_path / "calls"
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "never"], "--max-attempts", "2",
                  "--pre", f"{HOOK} {calls} pre 3", "--error", f"{HOOK} {calls} error {{chunk}}")
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    waited = render(spool, "wait", job["job"], "--timeout", "120", check=False)
    assert waited.returncode == 1
    chunk = job["chunks"][0]["chunk"]
    assert "pre hook failed: exit code 3" in (spool / "failed" / f"{chunk}.info.reason").read_text()
    assert not (markers / "never.starts").exists()  # the program never ran
    wait_for(lambda: f"error {chunk}" in _calls(calls), 60, what="the error hook")
    assert _calls(calls).count("pre 3") == 2 and _calls(calls).count(f"error {chunk}") == 1
    status = render(spool, "status", job["job"]).stdout + render(spool, "status", job["job"]).stderr
    assert "pre hook failed" in status


def test_a_daemon_without_allow_hooks_leaves_a_job_with_hooks(spool: Path, tmp_path: Path,
                                                              start_daemon) -> None:  # type: ignore[no-untyped-def]
    blend = tmp_path / "shot.blend"
    shutil.copy(BLEND, blend)
    calls = tmp_path / "calls"
    out = render(spool, "add", str(blend), "--local-ok", "--json", "--pre", f"{HOOK} {calls} pre")
    assert out.returncode == 0, out.stderr
    d = start_daemon("a", "--poll", "0.3", "--blender", FAKEBLENDER, "--no-warm")
    wait_for(lambda: "runs hooks only with --allow-hooks" in d.output(), 60, what="the refusal in the log")
    assert not calls.exists()
