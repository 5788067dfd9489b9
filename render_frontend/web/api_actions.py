"""Changing a job: POST /api/v1/jobs/{job}/pause|resume|cancel|retry, PUT .../priority, DELETE.

Each is `render pause/resume/cancel/retry/priority/remove` through the same functions
(render_frontend/jobactions.py): same checks, same ownership rules, same spool changes, carried
out as the user the service runs as.  Answer: {"job", "message"} plus the job as it is now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from render_frontend import jobactions
from render_frontend.views import NoSuchJob, jobs_json
from render_frontend.web.auth import require_change
from render_frontend.web.errors import ApiError
from render_frontend.web.inputs import Fields, job_param, json_body
from render_frontend.web.recent import recent_of
from render_frontend.web.settings import settings_of
from renderd.format.names import MAX_PRIORITY
from renderd.spool import Spool


def _answer(spool: Spool, job: str, said: str | list[str]) -> dict[str, Any]:
    lines = [said] if isinstance(said, str) else said
    try:
        (now,) = jobs_json(spool, job)
    except NoSuchJob:
        now = None  # removed
    return {"job": job, "message": "; ".join(lines), "status": now}


async def _act(request: Request, action: Callable[[Spool, str], str | list[str]]) -> JSONResponse:
    require_change(request)
    job = job_param(request)
    spool = settings_of(request).spool

    def run() -> dict[str, Any]:
        return _answer(spool, job, action(spool, job))

    try:
        return JSONResponse(await run_in_threadpool(run))
    finally:
        recent_of(request.app.state).clear()


async def job_action(request: Request) -> JSONResponse:
    action = str(request.path_params["action"])
    if action not in ("pause", "resume", "cancel", "retry"):
        raise ApiError(404, f"no action {action!r} (pause, resume, cancel or retry)")
    require_change(request)
    body = Fields(await json_body(request), {"now", "missing"})
    now = body.get("now", bool, False)
    missing = body.get("missing", bool, False)
    if (now and action != "pause") or (missing and action != "retry"):
        raise ApiError(400, "`now` is for pause and `missing` for retry only")
    actions: dict[str, Callable[[Spool, str], str | list[str]]] = {
        "pause": lambda s, j: jobactions.pause(s, j, now),
        "resume": jobactions.resume,
        "cancel": jobactions.cancel,
        "retry": lambda s, j: jobactions.retry(s, j, missing),
    }
    return await _act(request, actions[action])


async def set_priority(request: Request) -> JSONResponse:
    require_change(request)
    body = Fields(await json_body(request), {"priority"})
    if "priority" not in body.data:
        raise ApiError(400, 'send {"priority": N} with N from 0 to ' + str(MAX_PRIORITY))
    priority = body.int_in("priority", 0, MAX_PRIORITY, 0)
    return await _act(request, lambda s, j: jobactions.set_priority(s, j, priority))


async def remove_job(request: Request) -> JSONResponse:
    return await _act(request, jobactions.remove)
