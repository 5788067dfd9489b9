"""One exit code per outcome in every command (render_frontend/exitcodes.py), --json on the commands
that report, and `render wait`'s live line only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
from helpers.daemons import BIN, render

from render_frontend.exitcodes import HELP


@pytest.mark.parametrize(
    "args",
    [["status", "nope-1"], ["wait", "nope-1"], ["log", "nope-1"], ["cancel", "nope-1"], ["pause", "nope-1"],
     ["resume", "nope-1"], ["retry", "nope-1"], ["remove", "nope-1"], ["priority", "nope-1", "5"],
     ["tail", "--farm", "--job", "nope-1", "--timeout", "5s"]],
)
def test_an_unknown_job_is_exit_2_in_every_command(spool: Path, args: list[str]) -> None:
    render(spool, "add", "--frames", "1", "--", "true", cwd=spool)  # makes the spool
    out = render(spool, *args, check=False)
    assert out.returncode == 2, out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line == f"Error: no job 'nope-1' in {spool}"


@pytest.mark.parametrize(
    ("args", "says"),
    [(["tail", "--farm", "--socket", "x.sock"], "--farm reads the spool; it takes no --socket"),
     (["add", "x.blend", "--overwrite", "--skip-existing"], "give --overwrite or --skip-existing, not both"),
     (["add", "x.blend", "--scene", "A", "--all-scenes"], "give --scene or --all-scenes, not both"),
     (["add", "x.blend", "--cwd", "/tmp"], "--cwd: only for a command job"),
     (["add", "--frames", "1", "--scene", "A", "--", "true"], "--scene: only for a .blend job"),
     (["install-service", "--user", "--root", "/tmp/r"], "--root installs the system unit")],
)
def test_conflicting_options_are_usage_errors(spool: Path, args: list[str], says: str) -> None:
    out = render(spool, *args, check=False)
    assert out.returncode == 2 and says in out.stderr, out.stderr


def test_the_exit_codes_are_in_help_and_the_man_page() -> None:
    top = subprocess.run([str(BIN / "render"), "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "Exit codes: 0 ok" in top and "a JOB that does not exist" in " ".join(top.split())
    wait = subprocess.run([str(BIN / "render"), "wait", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "3 --timeout ran out" in " ".join(wait.split())
    from render_frontend.manpage import pages

    page = pages()["render.1"]
    assert ".SH EXIT STATUS" in page and "does not hold" in page
    assert HELP.startswith("Exit codes:")


def test_wait_json_has_each_chunks_result_and_pause_of_a_finished_job_is_refused(
    spool: Path, start_daemon  # type: ignore[no-untyped-def]
) -> None:
    start_daemon("w1", "--allow-commands")
    job = json.loads(render(spool, "add", "--frames", "1-4", "--chunk", "2", "--json", "--", "true",
                            cwd=spool).stdout)["job"]
    out = render(spool, "wait", job, "--json", "--timeout", "2m")
    data = json.loads(out.stdout)
    assert data["outcome"] == "done" and data["exit_code"] == 0 and data["state"] == "done"
    assert [(r["state"], r["frames"]) for r in data["results"]] == [("done", [1, 2]), ("done", [3, 4])]
    assert all(r["host"] == "w1" for r in data["results"])
    assert "\r" not in out.stderr  # piped: no live line, only the final one
    paused = render(spool, "pause", job, "--json", check=False)
    assert paused.returncode == 1 and f"{job} has finished (done)" in paused.stderr and paused.stdout == ""
    resumed = json.loads(render(spool, "priority", job, "7", "--json").stdout)
    assert resumed == {"job": job, "action": "priority", "before": 50, "after": 7, "changed": True,
                       "messages": [f"{job}: priority 50 -> 7"]}


def test_cancel_json_says_what_changed(spool: Path) -> None:
    job = json.loads(render(spool, "add", "--frames", "1-4", "--json", "--", "true", cwd=spool).stdout)["job"]
    data = json.loads(render(spool, "cancel", job, "--json").stdout)
    assert data["job"] == job and data["action"] == "cancel"
    assert data["before"] == "queued" and data["after"] == "cancelled" and data["changed"] is True


def test_wait_shows_a_live_line_on_a_terminal(spool: Path) -> None:
    job = json.loads(render(spool, "add", "--frames", "1-4", "--json", "--", "true", cwd=spool).stdout)["job"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: render wait on a terminal, no daemon, so it times out
        os.execv(str(BIN / "render"), ["render", "--spool", str(spool), "wait", job, "--timeout", "3s"])
    out = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 3
    assert f"{job}: frames 0/4, chunks 0/1 done, 0 running" in text and "\r" in text
    assert "timed out with 1 queued" in text
