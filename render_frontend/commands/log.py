"""`render log JOB[:CHUNK]`: the logs of a job's chunks, from any host and any attempt."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from render_frontend import completion, terminal
from render_frontend.context import Context, pass_ctx
from renderd.spool import Spool, open_regular

MAX_SHOWN = 64 * 1024 * 1024


@click.command("log")
@click.argument("target", metavar="JOB[:CHUNK]", shell_complete=completion.job_or_chunk)
@click.option("--run", "run_number", type=click.IntRange(1), help="Only this attempt (the run number in the name).")
@click.option("--last", is_flag=True, help="Only the newest log of each chunk.")
@click.option("--json", "as_json", is_flag=True, help="Print the logs as JSON (see docs/json.md).")
@pass_ctx
def command(ctx: Context, target: str, run_number: int | None, last: bool, as_json: bool) -> None:
    """Print the log of a chunk (CHUNK: its id or index), or of every chunk of JOB."""
    spool = ctx.spool()
    job, _, which = target.partition(":")
    manifest = spool.read_manifest(job)
    if manifest is None:
        raise click.ClickException(f"no job {job!r} in {spool.root}")
    chunks = [str(c.get("chunk")) for c in manifest.get("chunks") or [] if isinstance(c, dict)]
    if which:
        chunks = [_pick(chunks, job, which)]
    logs = _logs(spool, job, chunks, run_number, last)
    if as_json:
        out = [{**entry, "text": _read(spool.root / entry["path"]).decode("utf-8", errors="replace")}
               for entry in logs]
        terminal.echo(json.dumps({"job": job, "logs": out}))
        return
    if not logs:
        raise click.ClickException(f"no log yet for {target} (nothing of it has run)")
    for entry in logs:
        if len(logs) > 1:
            terminal.echo(f"==> {entry['chunk']} on {entry['host']}, run {entry['run']} ({entry['path']}) <==")
        terminal.write_body(_read(spool.root / entry["path"]))


def _pick(chunks: list[str], job: str, which: str) -> str:
    if which in chunks:
        return which
    if which.isdigit():
        for chunk in chunks:
            if chunk.rsplit("-", 1)[1].lstrip("0") == which.lstrip("0"):
                return chunk
    raise click.ClickException(f"job {job} has no chunk {which!r} (give its id or its index, e.g. {job}:1)")


def _logs(spool: Spool, job: str, chunks: list[str], run_number: int | None, last: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for chunk in chunks:
        entries = []
        for path in spool.chunk_logs(job, chunk):
            host, _, run = path.name[len(chunk) + 1 : -len(".log")].rpartition(".")
            if not run.isdigit() or (run_number is not None and int(run) != run_number):
                continue
            entries.append({"chunk": chunk, "host": host, "run": int(run),
                            "path": str(path.relative_to(spool.root))})
        out.extend(entries[-1:] if last else entries)
    return out


def _read(path: Path) -> bytes:
    try:
        fd = open_regular(path)
    except OSError as err:
        return f"(cannot read {path.name}: {err.strerror})\n".encode()
    with os.fdopen(fd, "rb") as fh:
        return fh.read(MAX_SHOWN)
