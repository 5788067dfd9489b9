"""`render add FILE.blend`: inspect, check, plan and queue one job covering its scenes."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from render_frontend import blend_inspect, blendjob, terminal
from render_frontend.blendjob import Plan, Request
from render_frontend.submit import submit
from renderd.errors import RenderdError
from renderd.kinds import blender
from renderd.spool import ChunkInfo, Spool


class AlreadyAdded(RenderdError):
    """The same job (same file content, scenes, ranges, chunk size) is in the spool already."""


class MissingDependencies(RenderdError):
    """--strict and the .blend needs files that are not there."""


def warn(text: str) -> None:
    terminal.echo(f"Warning: {text}", err=True)


def missing_dependencies(path: Path, strict: bool) -> str | None:
    """A warning naming the missing dependencies (none: None); with `strict`, MissingDependencies."""
    missing = [d for d in blend_inspect.dependencies(path) if not d.exists]
    if not missing:
        return None
    listed = ", ".join(f"{d.kind} {d.path}" for d in missing)
    if strict:
        raise MissingDependencies(f"missing dependencies: {listed} (--strict refuses to queue)", path)
    return f"{path}: missing dependencies: {listed}"


def _added_before(base: str) -> AlreadyAdded:
    return AlreadyAdded(
        f"this was added before as job {base} (same file content, scenes, ranges and chunk size); "
        "pass --again to queue it once more (frames already rendered are skipped; with --overwrite too, "
        "every frame is rendered again)"
    )


def next_job_id(spool: Spool, base: str, again: bool) -> str:
    """For --dry-run: the id `reserve_job_id` would take now, or the same refusal."""
    n = 1
    while True:
        job = base if n == 1 else f"{base}.{n}"
        if not os.path.lexists(spool.job_dir(job)):
            return job
        if not again:
            raise _added_before(base)
        n += 1


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
                raise _added_before(base) from None
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


@dataclass
class BlendOutcome:
    """What queueing a .blend did (or, dry, would do): `render add --json`'s answer and the lines to tell."""

    answer: dict[str, Any]
    summary: str
    warnings: list[str] = field(default_factory=list)
    chunk_lines: list[str] = field(default_factory=list)


def queue_blend(
    spool: Spool,
    path: Path,
    request: Request,
    *,
    strict: bool,
    again: bool,
    dry_run: bool,
    priority: int,
    name: str | None,
    timeout: float | None,
    max_attempts: int,
) -> BlendOutcome:
    """Inspect, check, plan and (unless `dry_run`) queue; RenderdError with one sentence if refused."""
    info = blend_inspect.inspect(path)
    plan = blendjob.plan(info, spool, request)
    warnings = list(plan.warnings)
    missing = missing_dependencies(path, strict)
    if missing is not None:
        warnings.append(missing)
    skipped = sum(p.skipped for p in plan.scenes)
    if not plan.chunk_specs():
        return BlendOutcome(
            to_json(None, info, plan, []),
            f"nothing to render: all {skipped} frame(s) are rendered already (--overwrite renders them again)",
            warnings,
        )
    job = plan.job_base
    if dry_run:
        job = next_job_id(spool, plan.job_base, again)  # what the real add would take, or its refusal
    else:
        spool = Spool.open(spool.root, create=True)
        job = reserve_job_id(spool, plan.job_base, again)
    spec = blendjob.job_spec(plan, job, info, request, priority, name, timeout, max_attempts)
    try:
        manifest, infos = submit(spool, spec, dry_run=dry_run)
    except BaseException:
        if not dry_run and spool.read_manifest(job) is None:
            shutil.rmtree(spool.job_dir(job), ignore_errors=True)  # free the id again
        raise
    answer = to_json(job, info, plan, infos)
    verb = "would queue" if dry_run else "queued"
    note = f"; {skipped} frame(s) already rendered are skipped" if skipped else ""
    summary = (f"{verb} {len(infos)} chunk(s), {manifest['frames']} frame(s) of {len(plan.scenes)} scene(s) "
               f"from {info.path.name} (Blender {info.version_text}){note}")
    lines = [f"{c['chunk']}  {c['scene']}  {c['start']}-{c['end']}:{c['step']}" for c in answer["chunks"]]
    return BlendOutcome(answer, summary, warnings, lines)


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
    """`render add FILE.blend`: queue_blend, told on stdout/stderr."""
    out = queue_blend(spool, path, request, strict=strict, again=again, dry_run=dry_run, priority=priority,
                      name=name, timeout=timeout, max_attempts=max_attempts)
    for text in out.warnings:
        warn(text)
    if as_json:
        terminal.echo(json.dumps(out.answer))
    elif out.answer["job"] is not None:
        if dry_run:
            for line in out.chunk_lines:
                terminal.echo(line)
        else:
            terminal.echo(out.answer["job"])
    terminal.echo(out.summary, err=True)
