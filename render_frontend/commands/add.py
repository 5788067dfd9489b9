"""`render add`: queue a job (a command line over a frame range, or a .blend file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from render_frontend import chunking
from render_frontend.cli import Context, pass_ctx
from render_frontend.submit import ChunkSpec, JobSpec, chunk_json, new_job_id, spool_relative, submit
from renderd.errors import RenderdError
from renderd.spool import MAX_PRIORITY


class DashDashCommand(click.Command):
    """Keeps everything after the first `--` apart: the program (or Blender's extra arguments)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            i = args.index("--")
            ctx.meta["after_dashdash"] = args[i + 1 :]
            args = args[:i]
        else:
            ctx.meta["after_dashdash"] = []
        return super().parse_args(ctx, args)


@click.command("add", cls=DashDashCommand)
@click.argument("blend", required=False, type=click.Path(path_type=Path))
@click.option("--frames", help="Frame range START-END[:STEP] (a command job needs it).")
@click.option(
    "--chunk", "per_chunk", default=10, show_default=True, type=click.IntRange(1), help="Rendered frames per chunk."
)
@click.option(
    "--priority", default=50, show_default=True, type=click.IntRange(0, MAX_PRIORITY), help="Higher runs first."
)
@click.option("--name", help="A name for the job (default: the program's or file's name).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Kill a chunk after this many seconds.")
@click.option(
    "--max-attempts",
    default=3,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Failed runs before a chunk goes to failed/.",
)
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, path_type=Path),
    help="Working directory of the command (default: the current one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the job and its chunks as JSON.")
@pass_ctx
def command(
    ctx: Context,
    blend: Path | None,
    frames: str | None,
    per_chunk: int,
    priority: int,
    name: str | None,
    timeout: float | None,
    max_attempts: int,
    cwd: Path | None,
    as_json: bool,
) -> None:
    """Queue a job: `render add --frames 1-100 -- PROGRAM ARGS...` or `render add shot.blend`.

    A command's arguments may hold {start}, {end}, {step} and {frames}; each chunk gets its own values.
    """
    after = click.get_current_context().meta["after_dashdash"]
    if blend is not None:
        raise click.UsageError("render add FILE.blend: Blender jobs are not supported yet")
    if not after:
        raise click.UsageError("nothing to run: give a .blend file, or a program after `--`")
    if frames is None:
        raise click.UsageError("a command job needs --frames START-END[:STEP]")
    try:
        start, end, step = chunking.parse_frames(frames)
        spool = ctx.spool(create=True)
        spec = JobSpec(
            job=new_job_id(name or after[0]),
            name=name or Path(after[0]).name,
            kind="command",
            chunks=[
                ChunkSpec(s, e, step, chunking.expand(after, s, e, step))
                for s, e in chunking.split(start, end, step, per_chunk)
            ],
            priority=priority,
            cwd=spool_relative(spool, cwd or Path.cwd()),
            timeout=timeout,
            max_attempts=max_attempts,
            details={"argv": after, "range": {"start": start, "end": end, "step": step}, "chunk_size": per_chunk},
        )
        manifest, infos = submit(spool, spec)
    except RenderdError as err:
        raise click.ClickException(str(err)) from None
    if as_json:
        out: dict[str, Any] = {"job": manifest["job"], "chunks": chunk_json(infos)}
        click.echo(json.dumps(out))
    else:
        click.echo(manifest["job"])
        click.echo(f"queued {len(infos)} chunk(s), {manifest['frames']} frame(s)", err=True)
