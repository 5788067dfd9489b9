"""`render add`: queue a job (a command line over a frame range, or a .blend file)."""

from __future__ import annotations

import errno
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from render_frontend import chunking, command_checks, hookopts, schedopts, terminal
from render_frontend.context import Context, pass_ctx
from render_frontend.submit import chunk_json, command_job, submit
from renderd.duration import Duration
from renderd.errors import RenderdError
from renderd.format.info import MAX_TIMEOUT
from renderd.format.names import MAX_PRIORITY


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
@click.option(
    "--frames",
    help="Frames: START-END[:STEP], or a list such as 1-10,20-30 or 1-3,5,7-20:2 (a command job needs it).",
)
@click.option(
    "--chunk", "per_chunk", default=10, show_default=True, type=click.IntRange(1), help="Rendered frames per chunk."
)
@click.option(
    "--priority", default=50, show_default=True, type=click.IntRange(0, MAX_PRIORITY), help="Higher runs first."
)
@click.option("--name", help="A name for the job, at most 24 characters (default: the program's or file's name).")
@click.option("--timeout", type=Duration(0.0, min_open=True, maximum=MAX_TIMEOUT),
              help="Kill a chunk that runs longer than this, e.g. 2h or 90m (a bare number: seconds).")
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
@click.option("--dry-run", is_flag=True, help="Show what would be queued; write nothing.")
@click.option("--scene", "scenes", multiple=True, help="[.blend] Render this scene (repeatable).")
@click.option("--all-scenes", is_flag=True, help="[.blend] Render every scene in the file.")
@click.option("--strict", is_flag=True, help="[.blend] Refuse to queue when a dependency is missing.")
@click.option("--again", is_flag=True, help="[.blend] Queue the very same job once more.")
@click.option("--local-ok", is_flag=True,
              help="Allow a .blend, output or --cwd that only this host can see (or each host its own).")
@click.option(
    "--shared-root",
    "shared_roots",
    multiple=True,
    envvar="RENDERD_SHARED_ROOTS",
    type=click.Path(file_okay=False, path_type=Path),
    help="A folder every host mounts at the same path (repeatable; $RENDERD_SHARED_ROOTS, ':'-separated).",
)
@click.option("--overwrite", is_flag=True, help="[.blend] Render every frame, even those already rendered.")
@click.option("--skip-existing", is_flag=True, help="[.blend] Skip every frame that exists complete, however old.")
@click.option("--trust-scripts", is_flag=True, help="[.blend] Let Blender run the file's Python (-y, --python ...).")
@schedopts.options
@hookopts.options
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
    dry_run: bool,
    scenes: tuple[str, ...],
    all_scenes: bool,
    strict: bool,
    again: bool,
    local_ok: bool,
    shared_roots: tuple[Path, ...],
    overwrite: bool,
    skip_existing: bool,
    trust_scripts: bool,
    tags: str,
    host_list: str | None,
    max_share: str | None,
    block_after: int,
    after_jobs: tuple[str, ...],
    gpu: bool,
    encode: str | None,
    pre_hook: str | None,
    post_hook: str | None,
    end_hook: str | None,
    error_hook: str | None,
    mail: str | None,
) -> None:
    """Queue a job: `render add --frames 1-100 -- PROGRAM ARGS...` or `render add shot.blend [-- BLENDER ARGS]`.

    A command's arguments may hold {start}, {end}, {step} and {frames}; each chunk gets its own values.
    A .blend job renders the scenes Blender would render (or --scene / --all-scenes) over their own frame
    ranges (or --frames); see docs/blender.md.  --tags, --hosts, --max-share, --after and --encode:
    docs/scheduling.md.
    """
    after = click.get_current_context().meta["after_dashdash"]
    try:
        spool_now = ctx.spool_for_reading() if after_jobs else None
        rules = schedopts.rules(spool_now, tags, host_list, max_share, block_after, after_jobs, gpu)
        job_hooks = hookopts.hooks(pre_hook, post_hook, end_hook, error_hook)
        mail_to = hookopts.mail_address(mail)
    except RenderdError as err:
        raise click.UsageError(str(err)) from None
    if blend is not None:
        # Only a .blend job needs BAT and zstandard (render_frontend.blend_inspect): imported here.
        from render_frontend.blend_add import add_blend
        from render_frontend.blendjob import Request

        if overwrite and skip_existing:
            raise click.UsageError("give --overwrite or --skip-existing, not both")
        if scenes and all_scenes:  # (blendjob says so too, for the API): options that conflict are exit 2
            raise click.UsageError("give --scene or --all-scenes, not both")
        if cwd is not None:
            raise click.UsageError("--cwd: only for a command job (Blender chunks run in the spool)")
        request = Request(
            scenes=list(scenes),
            all_scenes=all_scenes,
            frames=frames,
            per_chunk=per_chunk,
            extra=after,
            trust_scripts=trust_scripts,
            local_ok=local_ok,
            overwrite=overwrite,
            skip_existing=skip_existing,
            shared_roots=list(shared_roots),
            rules=rules,
            hooks=job_hooks,
            mail=mail_to,
        )
        try:
            spool = ctx.spool_for_reading()  # add_blend sets the spool up once the job is sound
            add_blend(spool, blend, request, strict=strict, again=again, dry_run=dry_run, as_json=as_json,
                      priority=priority, name=name, timeout=timeout, max_attempts=max_attempts, encode=encode)
        except RenderdError as err:
            raise click.ClickException(str(err)) from None
        except OSError as err:
            raise click.ClickException(cannot_write(err)) from None
        return
    blend_only = {"--scene": scenes, "--all-scenes": all_scenes, "--strict": strict, "--again": again,
                  "--overwrite": overwrite, "--skip-existing": skip_existing, "--trust-scripts": trust_scripts,
                  "--encode": encode}
    used = [flag for flag, value in blend_only.items() if value]
    if used:
        raise click.UsageError(f"{', '.join(used)}: only for a .blend job")
    if not after:
        raise click.UsageError("nothing to run: give a .blend file, or a program after `--`")
    if frames is None:
        raise click.UsageError("a command job needs --frames START-END[:STEP] (or a list: 1-10,20-30)")
    try:
        command_checks.check_name(name)
        chunking.check_size(chunking.parse_frame_runs(frames), per_chunk)  # refused before a spool is made
        where = command_checks.check_cwd(cwd or Path.cwd())
        spool = ctx.spool_for_reading() if dry_run else ctx.spool(create=True)
        spec = command_job(spool, after, frames, per_chunk=per_chunk, priority=priority, name=name,
                           cwd=where, timeout=timeout, max_attempts=max_attempts)
        spec = replace(spec, rules=rules, hooks=job_hooks, mail=mail_to)
        warning = command_checks.path_rule_warning(spool, where, shared_roots, local_ok)
        if warning:
            terminal.echo(f"Warning: {warning}", err=True)
        manifest, infos = submit(spool, spec, dry_run=dry_run)
    except RenderdError as err:
        raise click.ClickException(str(err)) from None
    except OSError as err:
        raise click.ClickException(cannot_write(err)) from None
    if as_json:
        out: dict[str, Any] = {"job": manifest.job, "chunks": chunk_json(infos)}
        terminal.echo(json.dumps(out))
    else:
        terminal.echo(manifest.job)
        verb = "would queue" if dry_run else "queued"
        terminal.echo(f"{verb} {len(infos)} chunk(s), {manifest.frames} frame(s)", err=True)


def cannot_write(err: OSError) -> str:
    """The spool refused a write: most often a uid that differs between hosts (NFS), so say so."""
    where = err.filename or "the spool"
    denied = err.errno in (errno.EPERM, errno.EACCES)
    hint = " (on NFS: is your uid the same on every host? see README)" if denied else ""
    return f"{where}: cannot write the job into the spool: {err.strerror or err}{hint}"
