"""The host record: what this workstation offers and is doing, refreshed in the spool."""

from __future__ import annotations

import os
import socket
from typing import Any

from renderd import __version__

MEMINFO_KEYS = {"MemTotal": "mem_total", "MemAvailable": "mem_free", "SwapTotal": "swap_total", "SwapFree": "swap_free"}


def meminfo(path: str = "/proc/meminfo") -> dict[str, int]:
    """Memory and swap in bytes (MemAvailable counts as free: it includes reclaimable cache)."""
    out = {v: 0 for v in MEMINFO_KEYS.values()}
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in MEMINFO_KEYS:
                    out[MEMINFO_KEYS[key]] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return out


def default_name() -> str:
    """The short host name, made safe for file names."""
    short = socket.gethostname().split(".")[0]
    safe = "".join(c if c.isalnum() or c in "_-" else "-" for c in short).strip("-")
    return safe or "host"


def record(name: str, state: str, chunks: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    """A fresh host record; `extra` carries the daemon's settings and times."""
    return {
        "format": 1,
        "name": name,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "cpus": os.cpu_count() or 1,
        "load": [round(x, 2) for x in os.getloadavg()],
        **meminfo(),
        "state": state,
        "chunks": chunks,
        "version": __version__,
        **extra,
    }
