"""GET /api/v1/jobs/{job}/chunks/{chunk}/log[?run=N]: a chunk's log, as `render log JOB:CHUNK --json`.

Without ?run= every run (any host, any attempt), oldest first; ?last=1 only the newest."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from render_frontend.views import job_chunks, log_entries, pick_chunk, read_log
from render_frontend.web.auth import require_read
from render_frontend.web.errors import ApiError
from render_frontend.web.inputs import int_query, job_param
from render_frontend.web.settings import settings_of
from renderd.spool import Spool

MAX_API_LOG = 8 * 1024 * 1024  # per run; the end of a longer log is what matters


def _log(spool: Spool, job: str, which: str, run: int | None, last: bool) -> dict[str, Any]:
    chunk = pick_chunk(job_chunks(spool, job), job, which)
    entries = log_entries(spool, job, [chunk], run, last)
    if not entries:
        what = f"run {run} of {chunk}" if run is not None else chunk
        raise ApiError(404, f"no log of {what} yet (nothing of it has run)")
    out = []
    for entry in entries:
        raw = read_log(spool.root / entry["path"], 64 * 1024 * 1024)
        cut = len(raw) > MAX_API_LOG
        out.append({**entry, "truncated": cut,
                    "text": raw[-MAX_API_LOG:].decode("utf-8", errors="replace")})
    return {"job": job, "chunk": chunk, "logs": out}


async def chunk_log(request: Request) -> JSONResponse:
    require_read(request)
    job = job_param(request)
    which = str(request.path_params["chunk"])
    run = int_query(request, "run", 1, 1_000_000)
    last = request.query_params.get("last") in ("1", "true")
    return JSONResponse(await run_in_threadpool(_log, settings_of(request).spool, job, which, run, last))
