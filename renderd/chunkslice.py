"""Start the spawner, and so every chunk, in a systemd slice (`renderd --chunk-slice`).

`systemd-run --scope` registers a scope in the slice and then execs the spawner in the same
process, so the daemon stays its parent (pipes, death signal and all).  The daemon itself stays
where it is, at normal priority.  As root the scope goes to the system manager (the top-level
renderd-chunks.slice, idle against everything); otherwise to the user's own manager (idle
against the user's other programs).  When systemd cannot do it, chunks still lower their own
priority (nice 19, SCHED_IDLE, idle I/O class); the daemon says so once.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

log = logging.getLogger(__name__)


def scope_prefix(slice_name: str | None) -> list[str]:
    """The argv prefix that runs a program in a new scope inside `slice_name` ([] if not possible)."""
    if not slice_name:
        return []
    program = shutil.which("systemd-run")
    if program is None:
        log.warning("--chunk-slice %s: no systemd-run on this host; chunks run at idle priority without it", slice_name)
        return []
    argv = [program, *([] if os.geteuid() == 0 else ["--user"])]
    argv += ["--scope", "--quiet", "--collect", f"--slice={slice_name}", "--"]
    try:
        probe = subprocess.run([*argv, "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        reason = str(err)
    else:
        if probe.returncode == 0:
            return argv
        reason = (probe.stderr.strip().splitlines() or [f"exit {probe.returncode}"])[-1]
    log.warning(
        "--chunk-slice %s: systemd-run cannot start a scope there (%s); chunks run at idle priority without it",
        slice_name,
        reason,
    )
    return []
