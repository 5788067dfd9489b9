"""Reading what a client sends: path parameters, query values and JSON bodies, each checked.

Anything wrong is an ApiError(400) with a sentence naming the field; nothing a client sends
can raise anything else."""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from starlette.requests import Request

from render_frontend.web.errors import ApiError
from renderd.format.names import valid_name

MAX_BODY = 1024 * 1024
T = TypeVar("T")


def job_param(request: Request) -> str:
    job = str(request.path_params["job"])
    if not valid_name(job):
        raise ApiError(404, f"no job {job!r} (not a job id)")
    return job


def int_query(request: Request, name: str, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, f"?{name}= must be a whole number from {low} to {high}")
    return int(raw)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (at most 1 MiB); an empty body is an empty object."""
    raw = b""
    async for part in request.stream():
        raw += part
        if len(raw) > MAX_BODY:
            raise ApiError(413, f"the request body is over {MAX_BODY // 1024} KiB")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError):
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def _no_constant(name: str) -> float:
    raise ValueError(name)


class Fields:
    """Typed access to a JSON object's fields; unknown fields are refused, not ignored."""

    def __init__(self, data: dict[str, Any], known: set[str]) -> None:
        unknown = sorted(set(data) - known)
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(map(repr, unknown))}")
        self.data = data

    def get(self, key: str, kind: type[T], default: T) -> T:
        value = self.data.get(key, default)
        if value is None and default is None:
            return default
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ApiError(400, f"field {key!r} must be {_kind_name(kind)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ApiError(400, f"field {key!r} must be a finite number")
        return value

    def int_in(self, key: str, low: int, high: int, default: int) -> int:
        value = self.get(key, int, default)
        if not low <= value <= high:
            raise ApiError(400, f"field {key!r} must be from {low} to {high}")
        return value

    def str_list(self, key: str, limit: int = 4096) -> list[str]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > limit:
            raise ApiError(400, f"field {key!r} must be a list of strings")
        if any("\0" in v for v in value):
            raise ApiError(400, f"field {key!r} holds a NUL character")
        return list(value)

    def optional_number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        return self.get(key, float, 0.0)

    def optional_str(self, key: str, max_len: int = 4096) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > max_len or "\0" in value:
            raise ApiError(400, f"field {key!r} must be a string of at most {max_len} characters")
        return value


def _kind_name(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(kind, kind.__name__)
