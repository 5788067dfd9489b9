"""What `render status/hosts/log --json` print, as functions: the CLI and `render serve` share them.

Each function reads the spool and returns plain JSON-ready data (docs/json.md); printing is
the caller's business, so a web service shows exactly what the terminal shows."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from render_frontend.farm import Farm, JobView, snapshot
from render_frontend.reasons import failed_reasons
from render_frontend.schedview import Why, explain
from renderd import blocklist
from renderd.errors import BadRecord, RenderdError, SpoolError
from renderd.spool import Spool, open_regular

MAX_LOG_SHOWN = 64 * 1024 * 1024


class NoSuchJob(RenderdError):
    """A job id (or chunk) that the spool does not hold (exit 2 in every command: exitcodes.py)."""

    exit_code = 2


def created(view: JobView) -> float:
    return view.manifest.created


def jobs_json(spool: Spool, job: str | None = None, list_frames: bool = False,
              farm: Farm | None = None, whys: dict[str, Why] | None = None) -> list[dict[str, Any]]:
    """`render status [JOB] [--frames] --json`'s list of jobs, oldest first (`whys`: each job's
    scheduling state, computed here when not given; render_frontend/schedview.py)."""
    farm = snapshot(spool, job) if farm is None else farm
    if job is not None and job in farm.unreadable:
        raise NoSuchJob(f"job {job!r} is unreadable: {farm.unreadable[job]}")
    if job is not None and job not in farm.jobs:
        raise NoSuchJob(f"no job {job!r} in {spool.root}")
    out = []
    for view in sorted(farm.jobs.values(), key=created):
        entry = view.to_json()
        entry["failed_reasons"] = failed_reasons(spool, view.failed)  # chunk -> the run's last error line
        why = whys[view.job] if whys is not None and view.job in whys else explain(spool, farm, view)
        entry["scheduling"] = why.as_json(view)
        if list_frames:
            entry["missing_frames"] = view.missing_frames(view.vanished_frames(spool.root))
        out.append(entry)
    return out


def hosts_json(spool: Spool, now: float | None = None) -> list[dict[str, Any]]:
    """`render hosts --json`'s list: each host record plus `name`, `state`, `live`, `heartbeat_age`.

    A record's `chunks` are what its daemon ran at its last heartbeat; a dead host's record keeps
    them after another host took their claims over.  The claim in claimed/ says who holds a chunk
    now, so a chunk is listed on another host only while that one holds its claim (`taken_over`
    names them), and a dead host's chunk that nobody holds (back in the queue) is not listed."""
    now = time.time() if now is None else now
    holder = {claim.chunk: claim.host for claim in spool.claims()}
    blocked = blocked_from(spool)
    rows = []
    for name, rec in sorted(spool.hosts().items()):  # records that fail their reader are left out (logged)
        live = rec.is_live(now)
        # a live host's fresh record may name a chunk whose claim just went (it finished): kept
        mine = [c.as_dict() for c in rec.chunks if holder.get(c.chunk, name if live else None) == name]
        moved = [{"chunk": c.chunk, "by": holder[c.chunk]} for c in rec.chunks
                 if holder.get(c.chunk) not in (None, name)]  # no holder: it finished meanwhile
        rows.append({
            **rec.as_dict(),
            "chunks": mine,
            "taken_over": moved,
            "name": name,
            "state": rec.state if live else "offline",
            "live": live,
            "heartbeat_age": None if rec.heartbeat is None else round(now - rec.heartbeat, 1),
            "tags": sorted(rec.tags),
            "blocked_from": blocked.get(name, []),
        })
    return rows


def blocked_from(spool: Spool) -> dict[str, list[dict[str, Any]]]:
    """host -> the queued jobs it is blocked from (render unblock JOB HOST), with its failures of each."""
    out: dict[str, list[dict[str, Any]]] = {}
    for qdir in spool.queue_dirs():
        manifest = spool.read_manifest(qdir.job)
        if manifest is None:
            continue
        for host, failures in blocklist.blocked_hosts(spool, qdir.job, manifest.rules.block_after).items():
            out.setdefault(host, []).append({"job": qdir.job, "failures": failures})
    return out


def job_chunks(spool: Spool, job: str) -> list[str]:
    """The chunk ids of a job's manifest; NoSuchJob if there is no such job."""
    try:
        manifest = spool.load_manifest(job)
    except SpoolError:
        raise NoSuchJob(f"no job {job!r} in {spool.root}") from None
    except BadRecord as err:
        raise NoSuchJob(f"job {job!r} is unreadable: {err}") from None
    return [c.chunk for c in manifest.chunks]


def pick_chunk(chunks: list[str], job: str, which: str) -> str:
    """A chunk by its id or its index (`3` or `0003`)."""
    if which in chunks:
        return which
    if which.isdigit():
        for chunk in chunks:
            if chunk.rsplit("-", 1)[1].lstrip("0") == which.lstrip("0"):
                return chunk
    raise NoSuchJob(f"job {job} has no chunk {which!r} (give its id or its index, e.g. {job}:1)")


def log_entries(spool: Spool, job: str, chunks: list[str], run_number: int | None = None,
                last: bool = False) -> list[dict[str, Any]]:
    """Every log of these chunks (any host, any run), oldest first: chunk, host, run, spool-relative path."""
    out: list[dict[str, Any]] = []
    for chunk in chunks:
        entries = []
        for path in spool.chunk_logs(job, chunk):
            host, _, run = path.name[len(chunk) + 1 : -len(".log")].rpartition(".")
            if not run.isdigit() or (run_number is not None and int(run) != run_number):
                continue
            entries.append({"chunk": chunk, "host": host, "run": int(run),
                            "path": str(path.relative_to(spool.root))})
        out.extend(entries[-1:] if last else entries)
    return out


def read_log(path: Path, limit: int = MAX_LOG_SHOWN) -> bytes:
    """A log's bytes (a regular file, never a planted FIFO or link); a line saying why if unreadable."""
    try:
        fd = open_regular(path)
    except OSError as err:
        return f"(cannot read {path.name}: {err.strerror})\n".encode()
    with os.fdopen(fd, "rb") as fh:
        return fh.read(limit)
