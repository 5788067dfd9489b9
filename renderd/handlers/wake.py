"""`wake`: re-read the spool now (job control was just changed on this machine)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from renderd import protocol

if TYPE_CHECKING:
    from renderd.server import Client, Server


def handle(server: Server, client: Client, message: dict[str, Any]) -> list[dict[str, Any]]:
    server.on_wake()
    return [protocol.response(message.get("id"))]
