"""`render add FILE.blend`: inspect, check, plan and queue one job covering its scenes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from render_frontend import blend_inspect, blendjob
from render_frontend.blendjob import Plan, Request
from render_frontend.submit import submit
from renderd import blender
from renderd.spool import ChunkInfo, Spool


def warn(text: str) -> None:
    click.echo(f"Warning: {text}", err=True)


def check_dependencies(path: Path, strict: bool) -> None:
    missing = [d for d in blend_inspect.dependencies(path) if not d.exists]
    if not missing:
        return
    listed = ", ".join(f"{d.kind} {d.path}" for d in missing)
    if strict:
        raise click.ClickException(f"{path}: missing dependencies: {listed} (--strict refuses to queue)")
    warn(f"{path}: missing dependencies: {listed}")


def unused_job_id(spool: Spool, base: str, again: bool) -> str:
    if spool.read_manifest(base) is None:
        return base
    if not again:
        raise click.ClickException(
            f"this was added before as job {base} (same file content, scenes, ranges and chunk size); "
            "pass --again to queue it once more (frames already rendered are skipped)"
        )
    n = 2
    while spool.read_manifest(f"{base}.{n}") is not None:
        n += 1
    return f"{base}.{n}"


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
    job = plan.job_base if dry_run else unused_job_id(spool, plan.job_base, again)
    spec = blendjob.job_spec(plan, job, info, request, priority, name, timeout, max_attempts)
    skipped = sum(p.skipped for p in plan.scenes)
    if not spec.chunks:
        if as_json:
            click.echo(json.dumps(to_json(None, info, plan, [])))
        click.echo(
            f"nothing to render: all {skipped} frame(s) are rendered already (--overwrite renders them again)", err=True
        )
        return
    if not dry_run:
        spool = Spool.open(spool.root, create=True)
    manifest, infos = submit(spool, spec, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(to_json(job, info, plan, infos)))
    elif dry_run:
        for out in to_json(job, info, plan, infos)["chunks"]:
            click.echo(f"{out['chunk']}  {out['scene']}  {out['start']}-{out['end']}:{out['step']}")
    else:
        click.echo(job)
    verb = "would queue" if dry_run else "queued"
    note = f"; {skipped} frame(s) already rendered are skipped" if skipped else ""
    click.echo(
        f"{verb} {len(infos)} chunk(s), {manifest['frames']} frame(s) of {len(plan.scenes)} scene(s) "
        f"from {info.path.name} (Blender {info.version_text}){note}",
        err=True,
    )
