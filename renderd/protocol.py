"""The local socket protocol shared by `renderd` and `render`: messages, framing, socket paths.

Framing: one JSON object per line (UTF-8, newline-terminated, at most `MAX_LINE` bytes).
Every message carries `"v"` (the protocol version) and `"type"`:

- `request`  client -> daemon: `{"v": 1, "type": "request", "id": N, "request": NAME, ...}`
- `response` daemon -> client: `{"v": 1, "type": "response", "id": N, "ok": true, ...}`
  (`"ok": false, "error": "..."` when the request was refused)
- `state`    daemon -> client: what the daemon is doing right now (first thing a subscriber gets)
- `event`    daemon -> subscriber: one thing that happened (`"event": "chunk-claimed"`, ...)

A reader refuses a message whose `v` is newer than `VERSION`.  docs/json.md lists every shape.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from renderd.errors import RenderdError

VERSION = 1
MAX_LINE = 1024 * 1024
TYPES = ("request", "response", "state", "event")
REQUESTS = ("ping", "state", "subscribe", "wake")
SOCKET_SUFFIX = ".sock"
SYSTEM_SOCKET_DIR = Path("/run/renderd")


class ProtocolError(RenderdError):
    """A message that is not valid renderd protocol."""


def encode(message: Mapping[str, Any]) -> bytes:
    """One framed message: `{"v": VERSION, ...}` and a newline."""
    data = {"v": VERSION, **message}
    raw = (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    if len(raw) > MAX_LINE:
        raise ProtocolError(f"message of {len(raw)} bytes is larger than {MAX_LINE}")
    return raw


def decode(line: bytes) -> dict[str, Any]:
    """Parse and check one line; ProtocolError says what is wrong with it."""
    if len(line) > MAX_LINE:
        raise ProtocolError(f"message larger than {MAX_LINE} bytes")
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"not JSON: {err}") from None
    if not isinstance(data, dict):
        raise ProtocolError("not a JSON object")
    version = data.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProtocolError("no protocol version")
    if version > VERSION:
        raise ProtocolError(f"protocol version {version} is newer than this side's {VERSION}: upgrade renderd")
    if data.get("type") not in TYPES:
        raise ProtocolError(f"unknown message type {data.get('type')!r}")
    return data


def request(name: str, ident: int = 1, **args: Any) -> dict[str, Any]:
    return {"type": "request", "id": ident, "request": name, **args}


def response(ident: Any, ok: bool = True, **data: Any) -> dict[str, Any]:
    return {"type": "response", "id": ident, "ok": ok, **data}


def error(ident: Any, text: str) -> dict[str, Any]:
    return response(ident, False, error=text)


# --------------------------------------------------------------------------- socket paths


def spool_key(spool_root: Path) -> str:
    """A short name for one spool on this machine (its resolved path, hashed)."""
    return hashlib.sha256(os.fsencode(os.path.realpath(spool_root))).hexdigest()[:12]


def default_socket_dir() -> Path:
    """Where this process's daemons put their sockets.

    root, and system services (no $XDG_RUNTIME_DIR, a writable /run/renderd from systemd's
    RuntimeDirectory=) use /run/renderd; a desktop session uses $XDG_RUNTIME_DIR/renderd;
    anything else a private /tmp/renderd-<uid>."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if os.getuid() == 0 or (not xdg and os.access(SYSTEM_SOCKET_DIR, os.W_OK)):
        return SYSTEM_SOCKET_DIR
    if xdg and os.path.isabs(xdg) and os.path.isdir(xdg):
        return Path(xdg) / "renderd"
    return Path(f"/tmp/renderd-{os.getuid()}")


def socket_dirs() -> list[Path]:
    """Every folder where a daemon this user may talk to could have put its socket."""
    dirs = [default_socket_dir(), SYSTEM_SOCKET_DIR, Path(f"/tmp/renderd-{os.getuid()}")]
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        dirs.append(Path(xdg) / "renderd")
    return list(dict.fromkeys(dirs))


def default_socket_path(spool_root: Path, daemon_name: str) -> Path:
    """`<dir>/<spool-key>-<daemon-name>.sock`: daemon names are unique within a spool."""
    return default_socket_dir() / f"{spool_key(spool_root)}-{daemon_name}{SOCKET_SUFFIX}"


def find_sockets(spool_root: Path) -> list[Path]:
    """Sockets of this machine's daemons of one spool (some may belong to dead daemons)."""
    prefix = spool_key(spool_root) + "-"
    found: list[Path] = []
    for folder in socket_dirs():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        found.extend(folder / n for n in names if n.startswith(prefix) and n.endswith(SOCKET_SUFFIX))
    return sorted(set(found))


def daemon_of_socket(path: Path) -> str:
    """The daemon name in a default socket path (the whole stem for a custom one)."""
    stem = path.name.removesuffix(SOCKET_SUFFIX)
    key, sep, name = stem.partition("-")
    return name if sep and len(key) == 12 else stem
