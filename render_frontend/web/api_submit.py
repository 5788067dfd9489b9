"""POST /api/v1/jobs: queue a .blend (`{"blend": PATH, ...}`) or a command (`{"argv": [...], "frames": ...}`).

The same checks and answer as `render add --json` (render_frontend/blend_add.py, submit.py),
with `"dry_run": true` for `--dry-run`.  Paths must be under the spool or the shared roots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from render_frontend import chunking
from render_frontend.blend_add import queue_blend
from render_frontend.blendjob import Request as BlendRequest
from render_frontend.submit import chunk_json, command_job, submit
from render_frontend.web.auth import require_change
from render_frontend.web.errors import ApiError
from render_frontend.web.inputs import Fields, json_body
from render_frontend.web.paths import allowed_path
from render_frontend.web.recent import recent_of
from render_frontend.web.settings import Settings, settings_of
from renderd.format.info import MAX_TIMEOUT
from renderd.format.names import MAX_PRIORITY

COMMON = {"frames", "chunk", "priority", "name", "timeout", "max_attempts", "dry_run"}
BLEND = COMMON | {"blend", "scenes", "all_scenes", "strict", "again", "local_ok", "overwrite",
                  "skip_existing", "trust_scripts", "extra"}
COMMAND = COMMON | {"argv", "cwd"}


def _common(f: Fields) -> dict[str, Any]:
    timeout = f.optional_number("timeout")
    if timeout is not None and not 0 < timeout <= MAX_TIMEOUT:
        raise ApiError(400, f"field 'timeout' must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
    name = f.optional_str("name", 200)
    return {
        "per_chunk": f.int_in("chunk", 1, 1_000_000, 10),
        "priority": f.int_in("priority", 0, MAX_PRIORITY, 50),
        "name": name or None,
        "timeout": timeout,
        "max_attempts": f.int_in("max_attempts", 1, 100, 3),
    }


def _blend(settings: Settings, f: Fields, dry_run: bool) -> tuple[int, dict[str, Any]]:
    path = allowed_path(settings, f.get("blend", str, ""), "blend")
    opts = _common(f)
    overwrite, skip = f.get("overwrite", bool, False), f.get("skip_existing", bool, False)
    if overwrite and skip:
        raise ApiError(400, "give overwrite or skip_existing, not both")
    request = BlendRequest(
        scenes=f.str_list("scenes", 1000), all_scenes=f.get("all_scenes", bool, False),
        frames=f.optional_str("frames", 100), per_chunk=opts.pop("per_chunk"), extra=f.str_list("extra"),
        trust_scripts=f.get("trust_scripts", bool, False), local_ok=f.get("local_ok", bool, False),
        overwrite=overwrite, skip_existing=skip, shared_roots=list(settings.shared_roots),
    )
    out = queue_blend(settings.spool, path, request, strict=f.get("strict", bool, False),
                      again=f.get("again", bool, False), dry_run=dry_run, **opts)
    answer = {**out.answer, "dry_run": dry_run, "message": out.summary, "warnings": out.warnings}
    return (201 if out.answer["job"] is not None and not dry_run else 200), answer


def _command(settings: Settings, f: Fields, dry_run: bool) -> tuple[int, dict[str, Any]]:
    argv = f.str_list("argv")
    if not argv:
        raise ApiError(400, "field 'argv' must hold the program and its arguments")
    frames = f.optional_str("frames", 100)
    if frames is None:
        raise ApiError(400, "a command job needs 'frames', e.g. \"1-100\", \"1-100:2\" or \"1-10,20-30\"")
    chunking.parse_frame_runs(frames)  # UsageError -> 400 (a frame list, renderd/framelist.py)
    cwd_raw = f.optional_str("cwd")
    cwd = allowed_path(settings, cwd_raw, "cwd") if cwd_raw is not None else settings.spool.root
    spec = command_job(settings.spool, argv, frames, cwd=Path(cwd), **_common(f))
    manifest, infos = submit(settings.spool, spec, dry_run=dry_run)
    verb = "would queue" if dry_run else "queued"
    return (200 if dry_run else 201), {
        "job": manifest.job, "chunks": chunk_json(infos), "dry_run": dry_run,
        "message": f"{verb} {len(infos)} chunk(s), {manifest.frames} frame(s)", "warnings": [],
    }


async def submit_job(request: Request) -> JSONResponse:
    require_change(request)
    data = await json_body(request)
    settings = settings_of(request)
    if ("blend" in data) == ("argv" in data):
        raise ApiError(400, "give either 'blend' (a .blend file's path) or 'argv' (a command), not both or neither")
    f = Fields(data, BLEND if "blend" in data else COMMAND)
    dry_run = f.get("dry_run", bool, False)
    handler = _blend if "blend" in data else _command
    try:
        status, answer = await run_in_threadpool(handler, settings, f, dry_run)
    finally:
        recent_of(request.app.state).clear()
    return JSONResponse(answer, status_code=status)
