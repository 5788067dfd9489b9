"""`wake`: re-read the spool now (job control was just changed on this machine)."""

from __future__ import annotations

from typing import Any

from renderd import protocol
from renderd.handlers.view import ClientView, ServerView


def handle(server: ServerView, client: ClientView, message: dict[str, Any]) -> list[dict[str, Any]]:
    server.on_wake()
    return [protocol.response(message.get("id"))]
