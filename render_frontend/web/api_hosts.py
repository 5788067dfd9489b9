"""GET /api/v1/hosts: what `render hosts --json` prints: state, cpu, load, memory, swap, chunks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from render_frontend.views import hosts_json
from render_frontend.web.auth import require_read
from render_frontend.web.recent import recent_of
from render_frontend.web.settings import settings_of


async def list_hosts(request: Request) -> JSONResponse:
    require_read(request)
    spool = settings_of(request).spool
    return JSONResponse({"hosts": await recent_of(request.app.state).get(("hosts",), lambda: hosts_json(spool))})
