"""`render add FILE.blend`: inspect, check, plan and queue one job covering its scenes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click

from render_frontend import blend_inspect, blendjob, terminal
from render_frontend.blendjob import Plan, Request
from render_frontend.submit import submit
from renderd.kinds import blender
from renderd.spool import ChunkInfo, Spool


def warn(text: str) -> None:
    terminal.echo(f"Warning: {text}", err=True)


def check_dependencies(path: Path, strict: bool) -> None:
    missing = [d for d in blend_inspect.dependencies(path) if not d.exists]
    if not missing:
        return
    listed = ", ".join(f"{d.kind} {d.path}" for d in missing)
    if strict:
        raise click.ClickException(f"{path}: missing dependencies: {listed} (--strict refuses to queue)")
    warn(f"{path}: missing dependencies: {listed}")


def reserve_job_id(spool: Spool, base: str, again: bool) -> str:
    """Claim the job's folder with an exclusive mkdir, so two identical adds cannot both win."""
    n = 1
    while True:
        job = base if n == 1 else f"{base}.{n}"
        try:
            spool.job_dir(job).mkdir()
            return job
        except FileExistsError:
            if not again:
                raise click.ClickException(
                    f"this was added before as job {base} (same file content, scenes, ranges and chunk size); "
                    "pass --again to queue it once more (frames already rendered are skipped)"
                ) from None
            n += 1


def to_json(job: str | None, info: blend_inspect.BlendInfo, plan: Plan, infos: list[ChunkInfo]) -> dict[str, Any]:
    blend_here = str(info.path.absolute())
    scenes = [
        {
            "scene": p.scene.name,
            "start": p.start,
            "end": p.end,
            "step": p.step,
            "output": p.scene.output_pattern,
            "engine": p.scene.engine,
        }
        for p in plan.scenes
    ]
    chunks = []
    for i in infos:
        fields = i.blender or {}
        argv = blender.build_argv("blender", blend_here, fields, i.start, i.end, i.step)
        chunks.append(
            {
                "chunk": i.chunk,
                "scene": fields.get("scene"),
                "start": i.start,
                "end": i.end,
                "step": i.step,
                "argv": argv,
            }
        )
    return {"job": job, "file": blend_here, "scenes": scenes, "chunks": chunks}


def add_blend(
    spool: Spool,
    path: Path,
    request: Request,
    *,
    strict: bool,
    again: bool,
    dry_run: bool,
    as_json: bool,
    priority: int,
    name: str | None,
    timeout: float | None,
    max_attempts: int,
) -> None:
    info = blend_inspect.inspect(path)
    plan = blendjob.plan(info, spool, request)
    for text in plan.warnings:
        warn(text)
    check_dependencies(path, strict)
    skipped = sum(p.skipped for p in plan.scenes)
    if not plan.chunk_specs():
        if as_json:
            terminal.echo(json.dumps(to_json(None, info, plan, [])))
        terminal.echo(
            f"nothing to render: all {skipped} frame(s) are rendered already (--overwrite renders them again)", err=True
        )
        return
    job = plan.job_base
    if not dry_run:
        spool = Spool.open(spool.root, create=True)
        job = reserve_job_id(spool, plan.job_base, again)
    spec = blendjob.job_spec(plan, job, info, request, priority, name, timeout, max_attempts)
    try:
        manifest, infos = submit(spool, spec, dry_run=dry_run)
    except BaseException:
        if not dry_run and spool.read_manifest(job) is None:
            shutil.rmtree(spool.job_dir(job), ignore_errors=True)  # free the id again
        raise
    if as_json:
        terminal.echo(json.dumps(to_json(job, info, plan, infos)))
    elif dry_run:
        for out in to_json(job, info, plan, infos)["chunks"]:
            terminal.echo(f"{out['chunk']}  {out['scene']}  {out['start']}-{out['end']}:{out['step']}")
    else:
        terminal.echo(job)
    verb = "would queue" if dry_run else "queued"
    note = f"; {skipped} frame(s) already rendered are skipped" if skipped else ""
    terminal.echo(
        f"{verb} {len(infos)} chunk(s), {manifest['frames']} frame(s) of {len(plan.scenes)} scene(s) "
        f"from {info.path.name} (Blender {info.version_text}){note}",
        err=True,
    )
