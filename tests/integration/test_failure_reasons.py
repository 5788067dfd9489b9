"""What failed and why is visible where the user looks: `render status`, `render wait --json`, `render log`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from helpers.daemons import render


def test_the_programs_error_line_is_the_reason_in_status_and_wait(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    start_daemon("f1", "--allow-commands", "--poll", "0.5")
    job = json.loads(render(spool, "add", "--frames", "1", "--max-attempts", "1", "--json", "--", "python3", "-c",
                            "import sys; print('working'); sys.exit('Error: the input is broken')",
                            cwd=spool).stdout)["job"]
    waited = render(spool, "wait", job, "--json", "--timeout", "2m", check=False)
    assert waited.returncode == 1
    (result,) = json.loads(waited.stdout)["results"]
    said = "failed 1 times; last: exit code 1: Error: the input is broken"
    assert result["state"] == "failed" and result["reason"] == said
    assert f"  failed {result['chunk']}: {said}" in render(spool, "status", job).stdout.splitlines()
    assert f"  failed {result['chunk']}: {said}" in render(spool, "status").stdout.splitlines()
    data = json.loads(render(spool, "status", job, "--json").stdout)["jobs"][0]
    assert data["failed_reasons"] == {result["chunk"]: said}


def test_a_chunk_that_fails_before_it_starts_is_told_by_log_and_the_daemon(spool: Path, tmp_path: Path,
                                                                         start_daemon) -> None:  # type: ignore[no-untyped-def]
    work = tmp_path / "work"
    work.mkdir()
    job = json.loads(render(spool, "add", "--frames", "1", "--max-attempts", "1", "--cwd", str(work), "--local-ok",
                            "--json", "--", "true").stdout)["job"]
    shutil.rmtree(work)  # gone between add (which checked it) and the run
    daemon = start_daemon("f2", "--allow-commands", "--poll", "0.5")
    assert render(spool, "wait", job, "--timeout", "2m", check=False).returncode == 1
    out = render(spool, "log", job, check=False)
    assert out.returncode == 1
    assert "failed before it started: " in out.stderr and "working directory" in out.stderr
    assert "does not exist on f2" in out.stderr
    assert "failed " in daemon.output() and "before it started" in daemon.output()
    events = (spool / "events" / "f2.jsonl").read_text()
    assert '"chunk-failed"' in events and "does not exist" in events
    tail = render(spool, "tail", "--farm", "-n", "50", "--timeout", "2s").stdout
    assert any("FAILED:" in line and "does not exist on f2" in line for line in tail.splitlines()), tail
