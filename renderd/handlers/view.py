"""What a request handler may see of the server and of the client that asked.

Handlers get these small protocols, not `renderd.server.Server`: the server imports the
handlers, so handlers importing the server back was a cycle (under TYPE_CHECKING), and a handler
that can reach the whole server can also block its thread.  `Server` and `Client` satisfy them
structurally; mypy checks that where server.py passes itself in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Snapshots(Protocol):
    def snapshot(self) -> dict[str, Any]:
        """The daemon's current state as one `state` message (livestate.LiveState)."""
        ...


class ServerView(Protocol):
    """The daemon's name, its live state, and the one action a request may trigger (re-read the spool)."""

    @property
    def name(self) -> str: ...

    @property
    def live(self) -> Snapshots: ...

    @property
    def on_wake(self) -> Callable[[], None]: ...


class ClientView(Protocol):
    """A connected client: a handler may only subscribe it to the event stream."""

    subscribed: bool
