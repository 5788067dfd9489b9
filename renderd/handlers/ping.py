"""`ping`: is the daemon there, and who is it?"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from renderd import __version__, protocol

if TYPE_CHECKING:
    from renderd.server import Client, Server


def handle(server: Server, client: Client, message: dict[str, Any]) -> list[dict[str, Any]]:
    return [protocol.response(message.get("id"), host=server.name, pid=os.getpid(), version=__version__)]
