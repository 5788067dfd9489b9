"""GET /api/v1/jobs/{job}/frames/{frame}/thumbnail: a small PNG of a rendered frame (thumbnails.py)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from render_frontend.farm import snapshot
from render_frontend.views import NoSuchJob
from render_frontend.web import thumbnails
from render_frontend.web.auth import require_read
from render_frontend.web.errors import ApiError
from render_frontend.web.inputs import job_param
from render_frontend.web.settings import Settings, settings_of


def _thumbnail(settings: Settings, job: str, frame: int) -> bytes:
    spool = settings.spool
    view = snapshot(spool, job).jobs.get(job)
    if view is None:
        raise NoSuchJob(f"no job {job!r} in {spool.root}")
    try:
        source = thumbnails.frame_file(spool, view, frame)
        return thumbnails.thumbnail(spool, settings.roots(), job, frame, source)
    except thumbnails.NoFrame as err:
        raise ApiError(404, str(err)) from None
    except thumbnails.OutsideRoots as err:
        raise ApiError(403, str(err)) from None
    except thumbnails.Unreadable as err:
        raise ApiError(415, str(err)) from None


async def frame_thumbnail(request: Request) -> Response:
    require_read(request)
    job = job_param(request)
    raw = str(request.path_params["frame"])
    if not raw.lstrip("-").isdigit() or len(raw) > 12:
        raise ApiError(400, f"frame {raw!r} is not a frame number")
    png = await run_in_threadpool(_thumbnail, settings_of(request), job, int(raw))
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=5"})
