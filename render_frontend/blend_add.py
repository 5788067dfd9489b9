"""`render add FILE.blend`: one pipeline, each stage visited once, the data handed forward.

    inspect(path) -> BlendInfo        blend_inspect.py  BAT: scenes, ranges, outputs, dependencies; no decisions
    plan(info, request) -> Plan       blendjob.py       scenes, paths, resume, chunks, job id: the whole JobSpec
    check(info, plan) -> warnings     blend_check.py    what to tell; --strict refuses missing dependencies
    submit_unique(spool, spec)        submit.py         the job's id (--again: base.2, ...) and the spool's files

This module only runs the stages in order and words the answer (`render add --json`, the summary);
`render serve` runs the same `queue_blend`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from render_frontend import blend_check, blend_inspect, blendjob, encodejob, submit, terminal
from render_frontend.blendjob import Plan, Request
from render_frontend.submit import AlreadyAdded
from renderd.format.info import ChunkInfo
from renderd.kinds import blender
from renderd.spool import Spool

__all__ = ["AlreadyAdded", "BlendOutcome", "Request", "add_blend", "queue_blend", "to_json"]


def warn(text: str) -> None:
    terminal.echo(f"Warning: {text}", err=True)


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
    encode: str | None = None,
) -> BlendOutcome:
    """Inspect, plan, check and (unless `dry_run`) queue; RenderdError with one sentence if refused."""
    request = replace(request, priority=priority, name=name, timeout=timeout, max_attempts=max_attempts)
    info = blend_inspect.inspect(path, with_dependencies=True)
    plan = blendjob.plan(info, spool, request)
    warnings = blend_check.check(info, plan, strict)
    skipped = sum(p.skipped for p in plan.scenes)
    if not plan.spec.chunks:
        return BlendOutcome(
            to_json(None, info, plan, []),
            f"nothing to render: all {skipped} frame(s) are rendered already (--overwrite renders them again)",
            warnings,
        )
    manifest, infos = submit.submit_unique(spool, plan.spec, again=again, dry_run=dry_run)
    answer = to_json(manifest.job, info, plan, infos)
    if encode is not None:
        video = encodejob.encode_spec(plan, info, manifest.job, encode, plan.spec)
        if not dry_run:
            spool = Spool.open(spool.root)
        encoded, _ = submit.submit_unique(spool, video, again=True, dry_run=dry_run)
        answer["encode"] = {"job": encoded.job, "videos": video.details["encode"]["videos"]}
    verb = "would queue" if dry_run else "queued"
    note = f"; {skipped} frame(s) already rendered are skipped" if skipped else ""
    summary = (f"{verb} {len(infos)} chunk(s), {manifest.frames} frame(s) of {len(plan.scenes)} scene(s) "
               f"from {info.path.name} (Blender {info.version_text}){note}")
    if "encode" in answer:
        summary += f"; then job {answer['encode']['job']} makes {', '.join(answer['encode']['videos'])}"
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
    encode: str | None = None,
) -> None:
    """`render add FILE.blend`: queue_blend, told on stdout/stderr."""
    out = queue_blend(spool, path, request, strict=strict, again=again, dry_run=dry_run, priority=priority,
                      name=name, timeout=timeout, max_attempts=max_attempts, encode=encode)
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
