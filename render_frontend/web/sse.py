"""GET /api/v1/events: the farm's live events as Server-Sent Events.

The same stream as `render tail --farm --json` (render_frontend/farmlog.py): every daemon's
events/<daemon>.jsonl, one `data:` line per message, oldest first; `?history=N` events of the
recent past per host first (default 0), `?job=J` only that job's.  Each client follows the
files itself (a poll every half second, in a worker thread), so no state is shared; a comment
line every KEEPALIVE seconds tells proxies and the page that the service is alive."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from render_frontend.farmlog import FARM_POLL, FarmLog
from render_frontend.web.auth import require_read
from render_frontend.web.inputs import int_query
from render_frontend.web.settings import settings_of
from renderd.format.names import valid_name

KEEPALIVE = 10.0


def about_job(message: dict[str, Any], job: str) -> bool:
    return message.get("job") == job or str(message.get("chunk", "")).startswith(job + "-")


def encode(message: dict[str, Any]) -> bytes:
    """One SSE message; json.dumps escapes newlines, so a hostile field cannot start a new one."""
    return b"data: " + json.dumps(message, ensure_ascii=True).encode() + b"\n\n"


async def stream(request: Request, follower: FarmLog, job: str | None,
                 stopping: Callable[[], bool]) -> AsyncIterator[bytes]:
    # The first poll comes before the first byte: a client that has read the preamble gets every
    # event written after it (and the recent past it asked for), none lost to a race.
    batch = await run_in_threadpool(follower.poll)
    yield b"retry: 2000\n: renderd events\n\n"
    last = time.monotonic()
    while True:
        for message in batch:
            if job is None or about_job(message, job):
                yield encode(message)
                last = time.monotonic()
        if time.monotonic() - last > KEEPALIVE:
            yield b": keepalive\n\n"
            last = time.monotonic()
        await asyncio.sleep(FARM_POLL)
        if stopping() or await request.is_disconnected():
            return
        batch = await run_in_threadpool(follower.poll)


async def events(request: Request) -> StreamingResponse:
    require_read(request)
    history = int_query(request, "history", 0, 1000) or 0
    job = request.query_params.get("job")
    if job is not None and not valid_name(job):
        job = "\0"  # matches nothing: an unknown job has no events
    follower = FarmLog(settings_of(request).spool, history)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    stopping = getattr(request.app.state, "stopping", lambda: False)
    return StreamingResponse(stream(request, follower, job, stopping), media_type="text/event-stream",
                             headers=headers)
