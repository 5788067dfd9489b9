"""GET /api/v1/jobs and /api/v1/jobs/{job}: what `render status --json` prints (docs/json.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from render_frontend.views import jobs_json
from render_frontend.web.auth import require_read
from render_frontend.web.inputs import job_param
from render_frontend.web.jobdetail import job_json
from render_frontend.web.recent import recent_of
from render_frontend.web.settings import settings_of


async def list_jobs(request: Request) -> JSONResponse:
    require_read(request)
    frames = request.query_params.get("frames") in ("1", "true")
    spool = settings_of(request).spool
    jobs = await recent_of(request.app.state).get(("jobs", frames), lambda: jobs_json(spool, None, frames))
    return JSONResponse({"jobs": jobs})


async def get_job(request: Request) -> JSONResponse:
    require_read(request)
    job = job_param(request)
    spool = settings_of(request).spool
    return JSONResponse(await recent_of(request.app.state).get(("job", job), lambda: job_json(spool, job)))
