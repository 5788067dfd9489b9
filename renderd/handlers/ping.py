"""`ping`: is the daemon there, and who is it?"""

from __future__ import annotations

import os
from typing import Any

from renderd import __version__, protocol
from renderd.handlers.view import ClientView, ServerView


def handle(server: ServerView, client: ClientView, message: dict[str, Any]) -> list[dict[str, Any]]:
    return [protocol.response(message.get("id"), host=server.name, pid=os.getpid(), version=__version__)]
