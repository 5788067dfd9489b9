"""`render burst --status`: each burst submitted from this spool, its pilots as Slurm and the spool see them.

Slurm knows whether a pilot is pending or running (`squeue`); once a pilot has left, `squeue`
forgets it, and `sacct` remembers only where accounting is enabled, so the pilot's own host
record (which says `offline` when it signed off) completes the picture.  The burst folders'
records are hostile input like any spool file: only the expected fields and types are used.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from render_frontend import terminal
from renderd.errors import BadRecord
from renderd.format import jsonload
from renderd.format.host import HostRecord
from renderd.spool import open_regular

MAX_BURSTS = 50  # the newest ones; older folders are history


def bursts(root: Path) -> list[dict[str, Any]]:
    """The newest burst records of the spool (burst/<id>/burst.json), newest first."""
    folder = root / "burst"
    try:
        names = sorted(os.listdir(folder), reverse=True)[:MAX_BURSTS]
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for name in names:
        try:
            rec = _read_burst(folder / name / "burst.json")
        except (OSError, BadRecord):
            continue
        if isinstance(rec, dict) and isinstance(rec.get("slurm_job"), str) and rec["slurm_job"].isdigit():
            out.append(rec)
    return out


def _slurm_lines(argv: list[str]) -> list[list[str]] | None:
    """Rows of a Slurm tool's `|`-separated output; None if the tool is missing or failed."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        return None
    return [line.split("|") for line in out.stdout.splitlines() if line.strip()]


def slurm_tasks(job: str) -> dict[str, dict[str, str]]:
    """Array task id -> {state, node, reason} from squeue, and from sacct for tasks squeue forgot."""
    tasks: dict[str, dict[str, str]] = {}
    rows = _slurm_lines(["sacct", "--noheader", "--parsable2", "--jobs", job, "--format", "JobID,State,NodeList"])
    for row in rows or []:
        if len(row) >= 3 and row[0].startswith(f"{job}_") and "." not in row[0]:
            tasks[row[0].split("_", 1)[1]] = {"state": row[1].split()[0], "node": row[2], "source": "sacct"}
    queued = _slurm_lines(["squeue", "--noheader", "--array", "--jobs", job, "--format", "%i|%T|%N|%r"])
    for row in queued or []:
        if len(row) >= 4 and row[0].startswith(f"{job}_"):
            tasks[row[0].split("_", 1)[1]] = {"state": row[1], "node": row[2], "reason": row[3], "source": "squeue"}
    return tasks


def _read_burst(path: Path, limit: int = 64 * 1024) -> Any:
    """A burst record's JSON, bounded (size, nesting, numbers) like every spool record."""
    with os.fdopen(open_regular(path), "rb") as fh:
        return jsonload.load(fh.read(limit + 1), path, what="burst record", limit=limit)


def pilot_hosts(job: str, hosts: Mapping[str, HostRecord]) -> dict[str, dict[str, Any]]:
    """Array task id -> the pilot's host record summary (pilots are named NODE-JOB_TASK)."""
    out: dict[str, dict[str, Any]] = {}
    for name, rec in hosts.items():
        head, sep, task = name.rpartition(f"-{job}_")
        if sep and head and task.isdigit():
            out[task] = {"host": name, "state": rec.state if rec.is_live() else "offline"}
    return out


def show(root: Path, hosts: Mapping[str, HostRecord], as_json: bool) -> None:
    rows = []
    for rec in bursts(root):
        job = rec["slurm_job"]
        count = rec.get("pilots")
        pilots = count if isinstance(count, int) and 0 < count <= 10000 else 0
        tasks, seen = slurm_tasks(job), pilot_hosts(job, hosts)
        for task in sorted(set(tasks) | set(seen) | {str(i) for i in range(pilots)}, key=int):
            slurm, host = tasks.get(task, {}), seen.get(task, {})
            rows.append({"burst": rec.get("id"), "slurm_job": f"{job}_{task}",
                         "slurm_state": str(slurm.get("state", "gone")), "node": slurm.get("node", ""),
                         "host": host.get("host"), "host_state": host.get("state")})
    if as_json:
        terminal.echo(json.dumps({"pilots": rows}))
        return
    if not rows:
        terminal.echo("no pilots were submitted from this spool (render burst --slurm N)", err=True)
        return
    counts: dict[str, int] = {}
    for r in rows:
        state = str(r["slurm_state"])
        counts[state] = counts.get(state, 0) + 1
    terminal.echo("pilots: " + ", ".join(f"{n} {state.lower()}" for state, n in sorted(counts.items())))
    terminal.echo(f"{'SLURM JOB':14} {'SLURM STATE':12} {'NODE':12} {'HOST':28} STATE")
    for r in map(terminal.fields, rows):  # spool records: each field on one line, controls made visible
        terminal.echo(f"{r['slurm_job']!s:14} {r['slurm_state']!s:12} {r['node']!s:12} {r['host'] or '-'!s:28} "
                   f"{r['host_state'] or '-'}")
