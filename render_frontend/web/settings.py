"""What one `render serve` process is configured with; handed to every handler through the app."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request

from renderd.spool import Spool


@dataclass(frozen=True)
class Settings:
    spool: Spool
    token: str
    shared_roots: tuple[Path, ...] = ()
    # Host header values a loopback client may use without a token (DNS rebinding: a page from
    # elsewhere that resolves its own name to 127.0.0.1 must not read the farm).
    local_hosts: frozenset[str] = field(default_factory=frozenset)
    refresh: float = 1.0  # how old a farm snapshot may be when served (recent.py)

    def roots(self) -> list[Path]:
        """The folders the file browser and submissions may use: the spool and the shared roots, resolved."""
        out: list[Path] = []
        for root in (self.spool.root, *self.shared_roots):
            real = Path(os.path.realpath(root))
            if real not in out:
                out.append(real)
        return out


def settings_of(request: Request) -> Settings:
    found = request.app.state.settings
    assert isinstance(found, Settings)
    return found
