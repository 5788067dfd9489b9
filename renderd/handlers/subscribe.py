"""`subscribe`: the current state first, then every event as it happens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from renderd import protocol

if TYPE_CHECKING:
    from renderd.server import Client, Server


def handle(server: Server, client: Client, message: dict[str, Any]) -> list[dict[str, Any]]:
    # The snapshot and the subscription are taken on the server thread, between two events,
    # so the subscriber sees no event twice and misses none.
    client.subscribed = True
    return [protocol.response(message.get("id")), server.live.snapshot()]
