"""`subscribe`: the current state first, then every event as it happens."""

from __future__ import annotations

from typing import Any

from renderd import protocol
from renderd.handlers.view import ClientView, ServerView


def handle(server: ServerView, client: ClientView, message: dict[str, Any]) -> list[dict[str, Any]]:
    # The snapshot and the subscription are taken on the server thread, between two events,
    # so the subscriber sees no event twice and misses none.
    client.subscribed = True
    return [protocol.response(message.get("id")), server.live.snapshot()]
