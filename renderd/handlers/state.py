"""`state`: what the daemon is doing right now (host state, running chunks and their progress)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from renderd import protocol

if TYPE_CHECKING:
    from renderd.server import Client, Server


def handle(server: Server, client: Client, message: dict[str, Any]) -> list[dict[str, Any]]:
    return [protocol.response(message.get("id"), state=server.live.snapshot())]
