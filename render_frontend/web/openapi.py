"""GET /api/v1/openapi.json: the API described in OpenAPI 3.1 (docs/api.md says the same in prose)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from renderd import __version__

ERROR = {"$ref": "#/components/schemas/Error"}
JOB = {"name": "job", "in": "path", "required": True, "schema": {"type": "string"}}


def _answers(ok: str, *codes: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    text = {400: "bad input", 401: "no or wrong token", 403: "not allowed (another user's job, a path "
            "outside the roots)", 404: "no such job, chunk, frame or log", 409: "the job's state forbids it",
            413: "body too large", 415: "no thumbnail can be made of the frame's file"}
    out: dict[str, Any] = {"200": {"description": ok, "content": {"application/json": {"schema": body or {}}}}}
    for code in codes:
        out[str(code)] = {"description": text[code], "content": {"application/json": {"schema": ERROR}}}
    return out


def _action(name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": f"render {name} JOB", "parameters": [JOB], "security": [{"bearer": []}],
        "responses": _answers("done: {job, message, status}", 400, 401, 403, 404, 409,
                              body={"$ref": "#/components/schemas/ActionAnswer"}),
    }
    if body is not None:
        op["requestBody"] = {"content": {"application/json": {"schema": body}}}
    return {"post": op}


def spec() -> dict[str, Any]:
    submit_body = {"oneOf": [
        {"type": "object", "required": ["blend"], "properties": {
            "blend": {"type": "string", "description": "absolute path under the spool or a shared root"},
            "frames": {"type": "string"}, "chunk": {"type": "integer"}, "priority": {"type": "integer"},
            "name": {"type": "string"}, "timeout": {"type": "number"}, "max_attempts": {"type": "integer"},
            "scenes": {"type": "array", "items": {"type": "string"}}, "all_scenes": {"type": "boolean"},
            "strict": {"type": "boolean"}, "again": {"type": "boolean"}, "local_ok": {"type": "boolean"},
            "overwrite": {"type": "boolean"}, "skip_existing": {"type": "boolean"},
            "trust_scripts": {"type": "boolean"}, "extra": {"type": "array", "items": {"type": "string"}},
            "dry_run": {"type": "boolean"}}, "additionalProperties": False},
        {"type": "object", "required": ["argv", "frames"], "properties": {
            "argv": {"type": "array", "items": {"type": "string"}}, "frames": {"type": "string"},
            "cwd": {"type": "string"}, "chunk": {"type": "integer"}, "priority": {"type": "integer"},
            "name": {"type": "string"}, "timeout": {"type": "number"}, "max_attempts": {"type": "integer"},
            "dry_run": {"type": "boolean"}}, "additionalProperties": False},
    ]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "renderd", "version": __version__,
                 "description": "A stateless view of a renderd spool; see docs/api.md and docs/json.md."},
        "paths": {
            "/api/v1/jobs": {
                "get": {"summary": "render status --json", "parameters": [
                    {"name": "frames", "in": "query", "schema": {"type": "string", "enum": ["1", "true"]}}],
                    "responses": _answers("{jobs: [...]}", 401)},
                "post": {"summary": "render add --json", "security": [{"bearer": []}],
                         "requestBody": {"required": True, "content": {"application/json": {"schema": submit_body}}},
                         "responses": {**_answers("dry run: what would be queued", 400, 401, 403, 409, 413),
                                       "201": {"description": "queued: {job, chunks, message, warnings}"}}},
            },
            "/api/v1/jobs/{job}": {
                "get": {"summary": "render status JOB --json, with missing_frames and chunk_list",
                        "parameters": [JOB], "responses": _answers("the job", 401, 404)},
                "delete": {"summary": "render remove JOB", "parameters": [JOB], "security": [{"bearer": []}],
                           "responses": _answers("removed", 401, 403, 404, 409)},
            },
            "/api/v1/jobs/{job}/priority": {"put": {
                "summary": "render priority JOB N", "parameters": [JOB], "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["priority"],
                    "properties": {"priority": {"type": "integer", "minimum": 0, "maximum": 999}}}}}},
                "responses": _answers("changed", 400, 401, 403, 404)}},
            "/api/v1/jobs/{job}/pause": _action("pause", {"type": "object",
                                                          "properties": {"now": {"type": "boolean"}}}),
            "/api/v1/jobs/{job}/resume": _action("resume"),
            "/api/v1/jobs/{job}/cancel": _action("cancel"),
            "/api/v1/jobs/{job}/retry": _action("retry", {"type": "object",
                                                          "properties": {"missing": {"type": "boolean"}}}),
            "/api/v1/jobs/{job}/chunks/{chunk}/log": {"get": {
                "summary": "render log JOB:CHUNK --json",
                "parameters": [JOB, {"name": "chunk", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "run", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                               {"name": "last", "in": "query", "schema": {"type": "string"}}],
                "responses": _answers("{job, chunk, logs: [{chunk, host, run, path, text, truncated}]}",
                                      400, 401, 404)}},
            "/api/v1/jobs/{job}/frames/{frame}/thumbnail": {"get": {
                "summary": "a PNG thumbnail of a rendered frame (cached in the spool)",
                "parameters": [JOB, {"name": "frame", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "image/png"},
                              **{k: v for k, v in _answers("", 400, 401, 403, 404, 415).items() if k != "200"}}}},
            "/api/v1/hosts": {"get": {"summary": "render hosts --json", "responses": _answers("{hosts: [...]}", 401)}},
            "/api/v1/events": {"get": {
                "summary": "render tail --farm --json as Server-Sent Events (one JSON message per data: line)",
                "parameters": [{"name": "history", "in": "query", "schema": {"type": "integer"}},
                               {"name": "job", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "text/event-stream"}}}},
            "/api/v1/files": {"get": {
                "summary": "folders and .blend files under the spool and the shared roots",
                "parameters": [{"name": "path", "in": "query", "schema": {"type": "string"}}],
                "responses": _answers("{path, parent, entries: [{name, path, type}], truncated}",
                                      400, 401, 403, 404)}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "ActionAnswer": {"type": "object", "properties": {
                    "job": {"type": "string"}, "message": {"type": "string"},
                    "status": {"description": "the job as GET /api/v1/jobs lists it; null once removed"}}},
            },
        },
    }


async def document(request: Request) -> JSONResponse:
    return JSONResponse(spec())
