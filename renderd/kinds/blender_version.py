"""This host's Blender: found once, as an absolute path, and asked which version it is.

The program is looked up when the daemon starts, in the daemon's own PATH; chunks then run
that absolute path, so nothing a chunk brings (its `env` block's PATH) can choose another
program (issue 10, finding 2).  `blender --version` costs ~0.4 s, so it is cached per program
file (path, size, mtime) in `~/.cache/renderd/blender-versions.json`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VERSION_RE = re.compile(r"^Blender (\d+)\.(\d+)(?:\.(\d+))?", re.MULTILINE)


def resolve_program(blender: str) -> str | None:
    """`blender` as an absolute path: a name is looked up in this process's PATH, a path made
    absolute; None if it is not an executable file."""
    found = shutil.which(blender) if "/" not in blender else (blender if os.access(blender, os.X_OK) else None)
    if found is None or not os.path.isfile(found):
        return None
    return os.path.abspath(found)


def host_blender(blender: str, cache_dir: Path | None = None) -> tuple[str, str | None]:
    """(absolute program, version such as "3.4.1"); (the name as given, None) with no working Blender.

    Logs one line saying why there is none: the daemon then leaves Blender chunks to others."""
    program = resolve_program(blender)
    if program is None:
        where = "on this daemon's PATH" if "/" not in blender else "(not an executable file)"
        log.warning("no working Blender: %r not found %s; this host leaves Blender chunks to others", blender, where)
        return blender, None
    version = host_version(program, cache_dir)
    if version is None:
        log.warning("no working Blender (%s): this host leaves Blender chunks to others", program)
    return program, version


def host_version(blender: str, cache_dir: Path | None = None) -> str | None:
    """`blender --version` of this host's Blender ("3.4.1"), None if it does not run."""
    program = resolve_program(blender)
    if program is None:
        return None
    real = os.path.realpath(program)
    try:
        st = os.stat(real)
    except OSError:
        return None
    key = f"{real}|{st.st_size}|{st.st_mtime_ns}"
    cache = (cache_dir or _cache_dir()) / "blender-versions.json"
    known = _read_cache(cache)
    if isinstance(known.get(key), str):
        return str(known[key])
    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=60, check=False).stdout
    except (OSError, subprocess.SubprocessError) as err:
        log.warning("cannot run %s --version: %s", program, err)
        return None
    m = VERSION_RE.search(out)
    if m is None:
        log.warning("%s --version did not say which Blender it is", program)
        return None
    version = ".".join(g for g in m.groups() if g is not None)
    known[key] = version
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, cache)
    except OSError as err:
        log.debug("cannot cache the Blender version: %s", err)
    return version


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "renderd"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def version_tuple(text: str | None) -> tuple[int, int] | None:
    """ "3.4.1" -> (3, 4)."""
    if not text:
        return None
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None
