"""Every error the API answers is JSON `{"error": "one sentence"}` with a status that says why."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from render_frontend.blend_add import AlreadyAdded
from render_frontend.jobactions import ActionFailed, Conflict, NotAllowed
from render_frontend.views import NoSuchJob
from renderd.errors import RenderdError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer that is not 2xx: the status code and one sentence for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def status_of(err: RenderdError) -> int:
    """The HTTP status for a refusal of our own code: the class says why."""
    if isinstance(err, NoSuchJob):
        return 404
    if isinstance(err, NotAllowed):
        return 403
    if isinstance(err, (Conflict, AlreadyAdded)):
        return 409
    if isinstance(err, ActionFailed):
        return 500
    return 400  # UsageError, BlendError, SpoolError of a request's path...


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": 'Bearer realm="renderd"'} if exc.status == 401 else None
    return error_response(exc.status, exc.message, headers)


async def on_renderd_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RenderdError)
    return error_response(status_of(exc), str(exc))


async def on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no such route, wrong method), as JSON too."""
    assert isinstance(exc, HTTPException)
    text = {404: "no such page or API endpoint", 405: f"{request.method} is not allowed here"}
    return error_response(exc.status_code, text.get(exc.status_code, str(exc.detail)), exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: logged with its traceback on the server, one sentence to the client."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error (the service's log has the details)")


HANDLERS = {
    ApiError: on_api_error,
    RenderdError: on_renderd_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
