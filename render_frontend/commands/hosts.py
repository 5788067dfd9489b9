"""`render hosts`: every daemon of the farm, read from the spool's host records."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from render_frontend import terminal
from render_frontend.context import Context, pass_ctx
from render_frontend.views import hosts_json
from renderd.hostorder import MAY_START, read_control
from renderd.spool import Spool


def _gib(n: Any) -> str:
    return f"{n / 2**30:.1f}G" if isinstance(n, (int, float)) else "?"


def _progress(chunk: dict[str, Any]) -> str:
    """` 35%` from the chunk's last progress event (renderd/blender_output.py), if it printed any."""
    progress = chunk.get("progress")
    fraction = progress.get("progress") if isinstance(progress, dict) else None
    return f" {100 * fraction:.0f}%" if isinstance(fraction, (int, float)) else ""


@click.command("hosts")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/json.md).")
@pass_ctx
def command(ctx: Context, as_json: bool) -> None:
    """Show every host: state, cpu, load, memory/swap, current chunks, last heartbeat."""
    spool = ctx.spool()
    rows = hosts_json(spool)
    if as_json:
        terminal.echo(json.dumps({"hosts": rows}))
        return
    if not rows:
        terminal.echo("no hosts have registered in this spool", err=True)
        return
    terminal.echo(
        f"{'HOST':20} {'STATE':10} {'CPU':>3} {'LOAD':>5} {'MEM FREE':>15} {'SWAP FREE':>15} {'BEAT':>6}  CHUNKS"
    )
    for r in map(terminal.fields, rows):  # each field on one line, its controls made visible
        load: Any = r.get("load") if isinstance(r.get("load"), list) and r.get("load") else [0]
        chunks = ",".join(str(c.get("chunk")) + _progress(c) for c in r.get("chunks") or [] if isinstance(c, dict))
        terminal.echo(  # !s on each field: a host record is hostile input like any file in the spool
            f"{r['name']:20} {r['state']!s:10} {r.get('cpus', '?')!s:>3} {load[0]!s:>5} "
            f"{_gib(r.get('mem_free')) + '/' + _gib(r.get('mem_total')):>15} "
            f"{_gib(r.get('swap_free')) + '/' + _gib(r.get('swap_total')):>15} "
            f"{str(r['heartbeat_age']) + 's':>6}  {chunks or '-'}"
        )
        for note in (_policy_note(spool, r), _pilot_note(r), _schedule_note(r)):
            if note:
                terminal.echo(f"{'':20} {note}")


def _schedule_note(row: dict[str, Any]) -> str:
    """`tags gpu,lighting; blocked from shot-1a2b (3 failures)`"""
    parts = []
    tags = row.get("tags")
    if isinstance(tags, list) and tags:
        parts.append("tags " + ",".join(map(str, tags)))
    for entry in row.get("blocked_from") or []:
        if isinstance(entry, dict):
            parts.append(f"blocked from {entry.get('job')!s} ({entry.get('failures')!s} failures)")
    return "; ".join(parts)


def _policy_note(spool: Spool, row: dict[str, Any]) -> str:
    """Why a live host starts nothing (idle policy, owner's order), or an order it has not seen yet."""
    order = read_control(spool, row["name"])
    if order is not None and row.get("control") != order:
        return f"({order} ordered; the daemon has not taken it up yet)"
    reason = row.get("policy")
    if row["live"] and isinstance(reason, str) and reason != MAY_START:
        return f"({reason})"
    return ""


def _pilot_note(row: dict[str, Any]) -> str:
    """A live Slurm pilot (render burst): when it leaves on its own (docs/burst.md)."""
    pilot = row.get("pilot")
    if not row["live"] or not isinstance(pilot, dict):
        return ""
    idle, end = pilot.get("idle_exit"), pilot.get("end_in")
    started = row.get("started")
    parts = ["Slurm pilot"]
    if isinstance(idle, (int, float)):
        parts.append(f"leaves after {idle:g} s without work")
    if isinstance(end, (int, float)) and isinstance(started, (int, float)):
        parts.append(f"job time limit at {time.strftime('%H:%M:%S', time.localtime(started + end))}")
    return "(" + ", ".join(parts) + ")"
