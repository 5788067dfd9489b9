"""A claim under a live daemon's own name and pid that no run of it holds (an error between claiming
and starting) is not trusted for ever: its heartbeat stops, and after the lease it is re-queued."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import FAKEPROG
from helpers.daemons import render, wait_for

from renderd.format.info import ChunkInfo
from renderd.format.names import ClaimName


def test_own_claim_without_a_run_is_requeued_after_the_lease_on_a_one_host_farm(
    spool: Path,
    markers: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    daemon = start_daemon("solo", "--allow-commands", "--poll", "0.3", "--lease", "2")
    argv = [sys.executable, FAKEPROG, str(markers), "orphan"]
    info = ChunkInfo(job="orphan", chunk="orphan-0001", index=1, kind="command", argv=argv, start=1, end=1, step=1)
    manifest = {
        "format": 1,
        "job": "orphan",
        "kind": "command",
        "priority": 50,
        "submitted_ms": 1,
        "chunks": [{"chunk": "orphan-0001", "start": 1, "end": 1, "step": 1}],
    }
    (spool / "jobs" / "orphan" / "done").mkdir(parents=True)
    (spool / "jobs" / "orphan" / "manifest.json").write_text(json.dumps(manifest))
    name = ClaimName("orphan-0001", "solo", daemon.pid, "0badc0de")
    (spool / "claimed" / name.filename).write_bytes(info.to_bytes())
    (spool / "claimed" / (name.filename + ".hb")).write_text("0\n")

    wait_for(lambda: (markers / "orphan.runs").exists(), 90, what="the orphaned chunk to run after the lease")
    assert render(spool, "wait", "orphan", "--timeout", "120", check=False).returncode == 0
    done = json.loads((spool / "jobs" / "orphan" / "done" / "orphan-0001.json").read_text())
    assert done["requeues"] == 1
    assert daemon.alive()
