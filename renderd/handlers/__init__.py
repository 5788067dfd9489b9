"""One module per request type; `HANDLERS` maps a request name to its handler.

A handler gets a view of the server and of the client (handlers/view.py: not the Server class,
which imports this package) and the decoded request, and returns the messages to send back (in
order).  Handlers run on the server's thread and must never block."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from renderd.handlers import ping, state, subscribe, wake
from renderd.handlers.view import ClientView, ServerView

Handler = Callable[[ServerView, ClientView, dict[str, Any]], list[dict[str, Any]]]

HANDLERS: dict[str, Handler] = {
    "ping": ping.handle,
    "state": state.handle,
    "subscribe": subscribe.handle,
    "wake": wake.handle,
}
