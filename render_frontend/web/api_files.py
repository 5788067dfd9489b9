"""GET /api/v1/files[?path=DIR]: folders and .blend files under the spool and the shared roots.

The submit dialog's file browser (the seed's file-select program).  Without `path`: the roots.
Hidden entries are left out; a folder lists at most MAX_ENTRIES entries."""

from __future__ import annotations

import os
import stat
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from render_frontend.web.auth import require_read
from render_frontend.web.errors import ApiError
from render_frontend.web.paths import allowed_path
from render_frontend.web.settings import Settings, settings_of

MAX_ENTRIES = 2000


def _listing(settings: Settings, raw: str | None) -> dict[str, Any]:
    if raw is None:
        roots = [{"name": str(r), "path": str(r), "type": "folder"} for r in settings.roots()]
        return {"path": None, "parent": None, "entries": roots, "truncated": False}
    folder = allowed_path(settings, raw, "path")
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        raise ApiError(404, f"path: {raw} does not exist") from None
    except NotADirectoryError:
        raise ApiError(400, f"path: {raw} is not a folder") from None
    except OSError as err:
        raise ApiError(403, f"path: cannot list {raw}: {err.strerror}") from None
    entries: list[dict[str, Any]] = []
    for name in names:
        if name.startswith("."):
            continue
        try:
            st = os.stat(folder / name)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            entries.append({"name": name, "path": str(folder / name), "type": "folder"})
        elif stat.S_ISREG(st.st_mode) and name.lower().endswith(".blend"):
            entries.append({"name": name, "path": str(folder / name), "type": "blend",
                            "size": st.st_size, "mtime": st.st_mtime})
    parent = None if folder in settings.roots() else str(folder.parent)
    return {"path": str(folder), "parent": parent, "entries": entries[:MAX_ENTRIES],
            "truncated": len(entries) > MAX_ENTRIES}


async def list_files(request: Request) -> JSONResponse:
    require_read(request)
    raw = request.query_params.get("path")
    return JSONResponse(await run_in_threadpool(_listing, settings_of(request), raw or None))
