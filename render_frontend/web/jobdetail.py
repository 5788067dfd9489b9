"""One job in full for `GET /api/v1/jobs/{job}`: `render status --json`'s entry plus every chunk.

Each chunk says its frames, its state (queued, running, done, failed, bad, cancelled, missing),
the host, its failure reason and its logs (runs), so the dashboard's job page needs one request."""

from __future__ import annotations

from typing import Any

from render_frontend.farm import JobView, snapshot
from render_frontend.views import NoSuchJob, jobs_json
from renderd.spool import Spool


def _logs_by_chunk(spool: Spool, view: JobView) -> dict[str, list[dict[str, Any]]]:
    """jobs/<job>/logs/<chunk>.<host>.<run>.log, listed once for the whole job."""
    out: dict[str, list[dict[str, Any]]] = {}
    chunks = set(view.chunk_frames())
    for path in sorted(spool.job_logs(view.job)):
        chunk, _, rest = path.name[: -len(".log")].partition(".")
        host, _, run = rest.rpartition(".")
        if chunk in chunks and host and run.isdigit():
            out.setdefault(chunk, []).append({"host": host, "run": int(run)})
    for runs in out.values():
        runs.sort(key=lambda r: int(r["run"]))
    return out


def chunk_details(spool: Spool, view: JobView) -> list[dict[str, Any]]:
    logs = _logs_by_chunk(spool, view)
    queued, failed = set(view.queued), set(view.failed)
    bad = {name.split(".info", 1)[0] for name in view.bad}
    out = []
    for chunk, frames in view.chunk_frames().items():
        entry: dict[str, Any] = {"chunk": chunk, "start": frames[0] if frames else None,
                                 "end": frames[-1] if frames else None, "frames": frames,
                                 "host": None, "reason": None, "seconds": None, "runs": logs.get(chunk, [])}
        if chunk in view.running:
            entry.update(state="running", host=view.running[chunk])
        elif chunk in view.done:
            rec = view.done[chunk]
            entry.update(state="done", host=rec.host or None, seconds=rec.seconds)
        elif chunk in failed:
            entry.update(state="failed", reason=spool.failed_reason(chunk) or None)
        elif chunk in bad:
            entry.update(state="bad", reason="quarantined in bad/ (its info file could not be trusted)")
        elif chunk in view.cancelled:
            entry.update(state="cancelled")
        elif chunk in queued:
            entry.update(state="queued")
        else:
            entry.update(state="missing")
        out.append(entry)
    return out


def job_json(spool: Spool, job: str) -> dict[str, Any]:
    farm = snapshot(spool, job)
    view = farm.jobs.get(job)
    if view is None:
        raise NoSuchJob(f"no job {job!r} in {spool.root}")
    (entry,) = jobs_json(spool, job, list_frames=True, farm=farm)
    entry["chunk_list"] = chunk_details(spool, view)
    return entry

