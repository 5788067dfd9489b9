"""`render host pause|resume|drain [HOST]`: the owner's say over a host.

The order goes to hosts/<HOST>.control in the spool, so it reaches a daemon on any machine
within a poll (--poll) and survives its restarts; this machine's daemons are also woken through
their sockets so they act at once.  `pause` suspends running chunks (given back to the queue
after the daemon's --max-suspend) and starts nothing; `drain` starts nothing and lets running
chunks finish; `resume` lifts either.  `render hosts` shows the result.  docs/idle.md."""

from __future__ import annotations

import getpass
import json
import socket

import click

from render_frontend import completion, hostrecords, terminal
from render_frontend.client import wake_local_daemons
from render_frontend.context import Context, pass_ctx
from render_frontend.exitcodes import UnknownName
from renderd import protocol
from renderd.errors import RenderdError
from renderd.format.names import valid_name
from renderd.host import default_name
from renderd.spool import Spool

ORDERS = {"pause": "pause", "drain": "drain", "resume": None}
ACTIONS = [*ORDERS, "forget"]
DONE = {
    "pause": "paused: running chunks are suspended, nothing new starts",
    "drain": "draining: running chunks finish, nothing new starts",
    "resume": "resumed: the idle policy decides again",
}


def local_daemons(spool: Spool) -> list[str]:
    return sorted({protocol.daemon_of_socket(p) for p in protocol.find_sockets(spool.root)})


def pick_host(spool: Spool, host: str | None) -> str:
    """The named host, or this machine's daemon of the spool."""
    known = spool.hosts()
    if host is not None:
        if not valid_name(host, 64) or host not in known:
            names = ", ".join(sorted(known)) or "none"
            raise UnknownName(f"no host {host!r} in {spool.root} (hosts: {names})")
        return host
    mine = [n for n in local_daemons(spool) if n in known]
    if not mine:
        here = socket.gethostname()
        mine = sorted(n for n, rec in known.items() if rec.hostname == here and rec.is_live())
    if not mine and default_name() in known:
        mine = [default_name()]
    if len(mine) != 1:
        which = f"this machine runs {', '.join(mine)}" if mine else "no daemon of this spool runs on this machine"
        raise click.ClickException(f"which host? {which}: name it (render host pause HOST)")
    return mine[0]


@click.command("host")
@click.argument("order", type=click.Choice(sorted(ACTIONS)))
@click.argument("host", required=False, shell_complete=completion.hosts)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@pass_ctx
def command(ctx: Context, order: str, host: str | None, as_json: bool) -> None:
    """Pause, drain or resume HOST (default: this machine's daemon); `forget HOST` removes a dead host's record."""
    spool = ctx.spool()
    if order == "forget":
        _forget(spool, host, as_json)
        return
    name = pick_host(spool, host)
    try:
        spool.write_host_control(name, ORDERS[order], f"{getpass.getuser()}@{socket.gethostname()}")
    except (OSError, RenderdError) as err:
        raise click.ClickException(f"cannot {order} {name}: {err}") from None
    woken = wake_local_daemons(spool.root)
    where = "now" if woken and name in local_daemons(spool) else "at its next poll"
    terminal.echo(f"{name}: {DONE[order]} ({where})", err=True)
    if as_json:
        terminal.echo(json.dumps({"host": name, "action": order, "woken": where == "now"}))


def _forget(spool: Spool, host: str | None, as_json: bool) -> None:
    if host is None:
        raise click.UsageError("forget which host? name it: render host forget HOST")
    try:
        removed = hostrecords.forget(spool, host)
    except hostrecords.NoSuchHost as err:
        raise UnknownName(str(err)) from None
    except (OSError, RenderdError) as err:
        raise click.ClickException(f"cannot forget {host}: {err}") from None
    terminal.echo(f"{host}: forgotten ({', '.join(removed) or 'nothing left to remove'})", err=True)
    if as_json:
        terminal.echo(json.dumps({"host": host, "action": "forget", "removed": removed}))
