"""The ASGI application: routes, security headers, JSON errors (Starlette)."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from render_frontend.web import (
    api_actions,
    api_chunks,
    api_files,
    api_frames,
    api_hosts,
    api_jobs,
    api_submit,
    openapi,
    pages,
    sse,
)
from render_frontend.web.errors import HANDLERS
from render_frontend.web.recent import Recent
from render_frontend.web.settings import Settings

STATIC = Path(__file__).parent / "static"

# Everything the page needs comes from this service; no inline script or style, no frames.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the headers above to every response (plain ASGI: streams such as SSE pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in names]
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def routes() -> list[Route | Mount]:
    v1 = "/api/v1"
    return [
        Route("/", pages.dashboard),
        Route("/jobs/{job}", pages.job_page),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route(f"{v1}/openapi.json", openapi.document),
        Route(f"{v1}/jobs", api_jobs.list_jobs, methods=["GET"]),
        Route(f"{v1}/jobs", api_submit.submit_job, methods=["POST"]),
        Route(f"{v1}/jobs/{{job}}", api_jobs.get_job, methods=["GET"]),
        Route(f"{v1}/jobs/{{job}}", api_actions.remove_job, methods=["DELETE"]),
        Route(f"{v1}/jobs/{{job}}/priority", api_actions.set_priority, methods=["PUT"]),
        Route(f"{v1}/jobs/{{job}}/chunks/{{chunk}}/log", api_chunks.chunk_log, methods=["GET"]),
        Route(f"{v1}/jobs/{{job}}/frames/{{frame}}/thumbnail", api_frames.frame_thumbnail, methods=["GET"]),
        Route(f"{v1}/jobs/{{job}}/{{action}}", api_actions.job_action, methods=["POST"]),
        Route(f"{v1}/hosts", api_hosts.list_hosts, methods=["GET"]),
        Route(f"{v1}/events", sse.events, methods=["GET"]),
        Route(f"{v1}/files", api_files.list_files, methods=["GET"]),
    ]


def create_app(settings: Settings) -> Starlette:
    app = Starlette(routes=routes(), middleware=[Middleware(SecurityHeaders)],
                    exception_handlers=HANDLERS)
    app.state.settings = settings
    app.state.recent = Recent(settings.refresh)
    return app
