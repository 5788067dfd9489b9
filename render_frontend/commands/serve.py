"""`render serve`: the REST API and the live dashboard (render_frontend/web/, docs/api.md).

Needs the `renderd[web]` extra (Starlette and uvicorn); nothing of it is imported until this
command runs, so `render` itself stays light."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import click

from render_frontend import terminal
from render_frontend.context import Context, pass_ctx
from renderd.duration import Duration
from renderd.errors import RenderdError

DEFAULT_PORT = 8470


def _bind(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if value != "localhost":
            raise click.BadParameter(f"{value!r} is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)") from None
        return "127.0.0.1"
    return value


@click.command("serve")
@click.option("--bind", default="127.0.0.1", show_default=True, callback=_bind,
              help="Address to listen on; other than loopback needs --token-file.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free one; the URL is printed).")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="File holding the bearer token that every change needs (default: made on first start "
                   "in ~/.config/renderd/api-token).")
@click.option("--shared-root", "shared_roots", multiple=True, envvar="RENDERD_SHARED_ROOTS",
              type=click.Path(file_okay=False, path_type=Path),
              help="A folder every host mounts at the same path: the file browser and submissions may use it "
                   "besides the spool (repeatable; $RENDERD_SHARED_ROOTS, ':'-separated).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Serve HTTPS with this certificate (PEM; or run behind a reverse proxy, docs/api.md).")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The private key of --tls-cert (PEM).")
@click.option("--refresh", default="1s", show_default=True, type=Duration(0, maximum=60),
              help="Serve a farm snapshot again for up to this long, e.g. 2s (0: read the spool for every request).")
@click.option("--print-url", is_flag=True, help="Print the dashboard's URL (with the token) and exit.")
@pass_ctx
def command(ctx: Context, bind: str, port: int, token_file: Path | None, shared_roots: tuple[Path, ...],
            tls_cert: Path | None, tls_key: Path | None, refresh: float, print_url: bool) -> None:
    """Serve the REST API (/api/v1) and a live dashboard of the farm (http://127.0.0.1:8470/)."""
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("give both --tls-cert and --tls-key, or neither")
    try:
        from render_frontend.web import auth, server
        from render_frontend.web.settings import Settings
        from render_frontend.web.spoolcache import CachedSpool
    except ImportError as err:
        raise click.ClickException(f"render serve needs the web extra ({err.name} is missing): "
                                   "pip install 'renderd[web]'") from None
    if not auth.is_loopback(bind) and token_file is None:
        raise click.UsageError(f"--bind {bind} is reachable from other machines: give --token-file "
                               "(every change needs that token)")
    spool = CachedSpool.open(ctx.spool().root)
    try:
        token, path, made = auth.token_from(token_file)
    except (RenderdError, OSError) as err:
        raise click.ClickException(str(err)) from None
    listen = server.Listen(bind, port, tls_cert, tls_key)
    if print_url:
        terminal.echo(f"{listen.scheme}://{server.url_host(bind)}:{port or DEFAULT_PORT}/#token={token}")
        return
    if made:
        terminal.echo(f"render serve: made the API token that every change needs, in {path}:\n  {token}\n"
                   "(shown this once; `render serve --print-url` prints the dashboard's URL with it)", err=True)
    roots = tuple(Path(os.path.abspath(r)) for r in shared_roots)
    settings = Settings(spool, token, roots, server.local_hosts(bind), refresh)
    try:
        sock = server.open_socket(listen)
    except OSError as err:
        raise click.ClickException(f"cannot listen on {bind}:{port}: {err.strerror}") from None
    server.serve(settings, listen, sock)
