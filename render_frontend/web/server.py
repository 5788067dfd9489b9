"""Running the app with uvicorn: one listening socket made here (so `--port 0` works and the
URL can be told before the first request), TLS if asked, a short graceful shutdown (event
streams never end by themselves)."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from render_frontend import terminal
from render_frontend.web.app import create_app
from render_frontend.web.auth import is_loopback
from render_frontend.web.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listen:
    bind: str
    port: int
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


def url_host(bind: str) -> str:
    """The host part of a URL to give a person: a wildcard bind is reached by this machine's name."""
    if bind in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{bind}]" if ":" in bind else bind


def open_socket(listen: Listen) -> socket.socket:
    family = socket.AF_INET6 if ":" in listen.bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((listen.bind, listen.port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def local_hosts(bind: str) -> frozenset[str]:
    names = {"localhost", bind if ":" not in bind else f"[{bind}]"}
    if not is_loopback(bind):
        names.add(socket.gethostname())
    return frozenset(names)


def serve(settings: Settings, listen: Listen, sock: socket.socket) -> None:
    """Serve until SIGTERM/SIGINT."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        ssl_certfile=str(listen.tls_cert) if listen.tls_cert else None,
        ssl_keyfile=str(listen.tls_key) if listen.tls_key else None,
        timeout_graceful_shutdown=2,
        lifespan="off",
        server_header=False,
    )
    server = uvicorn.Server(config)
    app.state.stopping = lambda: server.should_exit  # event streams end at once on SIGTERM
    port = sock.getsockname()[1]
    terminal.echo(f"render serve: {settings.spool.root} on {listen.scheme}://{url_host(listen.bind)}:{port}/", err=True)
    server.run(sockets=[sock])
