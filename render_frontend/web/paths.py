"""Paths a client names (a .blend to queue, a folder to browse, a command's cwd): only under the
spool and the shared roots, resolved with every symlink followed before the check."""

from __future__ import annotations

import os
from pathlib import Path

from render_frontend.web.errors import ApiError
from render_frontend.web.settings import Settings

MAX_PATH = 4096


def allowed_path(settings: Settings, raw: str, what: str) -> Path:
    """The resolved path, if it is inside the spool or a shared root; else 400 or 403."""
    if not raw or len(raw) > MAX_PATH or "\0" in raw:
        raise ApiError(400, f"{what}: give an absolute path of at most {MAX_PATH} characters")
    if not raw.startswith("/"):
        raise ApiError(400, f"{what}: {raw!r} is not an absolute path")
    real = Path(os.path.realpath(raw))
    if not any(real == root or root in real.parents for root in settings.roots()):
        roots = ", ".join(str(r) for r in settings.roots())
        raise ApiError(403, f"{what}: {raw} is outside the spool and the shared roots ({roots})")
    return real
