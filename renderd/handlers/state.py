"""`state`: what the daemon is doing right now (host state, running chunks and their progress)."""

from __future__ import annotations

from typing import Any

from renderd import protocol
from renderd.handlers.view import ClientView, ServerView


def handle(server: ServerView, client: ClientView, message: dict[str, Any]) -> list[dict[str, Any]]:
    return [protocol.response(message.get("id"), state=server.live.snapshot())]
