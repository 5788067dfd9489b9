"""One module per request type; `HANDLERS` maps a request name to its handler.

A handler gets the server, the client and the decoded request, and returns the messages to
send back (in order).  Handlers run on the server's thread and must never block."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from renderd.handlers import ping, state, subscribe, wake

if TYPE_CHECKING:
    from renderd.server import Client, Server

Handler = Callable[["Server", "Client", dict[str, Any]], list[dict[str, Any]]]

HANDLERS: dict[str, Handler] = {
    "ping": ping.handle,
    "state": state.handle,
    "subscribe": subscribe.handle,
    "wake": wake.handle,
}
