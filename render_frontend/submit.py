"""Turning a job description into a manifest and info files, and handing them to the spool.

Also the submit stage of `render add FILE.blend` (blend_add.py: inspect -> plan -> check ->
submit): `submit_unique` takes the job's id (its base, or base.2, ... with --again) and writes it."""

from __future__ import annotations

import getpass
import os
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from render_frontend import chunking, progressbar
from renderd.errors import BadRecord, RenderdError, UsageError
from renderd.format import FORMAT
from renderd.format.hooks import Hooks
from renderd.format.info import ChunkInfo
from renderd.format.manifest import MAX_CHUNKS, Manifest
from renderd.format.names import chunk_id, valid_name
from renderd.format.rules import JobRules
from renderd.spool import Spool


class AlreadyAdded(RenderdError):
    """The same job (same file content, scenes, ranges, chunk size) is in the spool already."""


def slug(text: str, limit: int = 24) -> str:
    """A short file-name-safe word from a program or file name."""
    word = re.sub(r"[^A-Za-z0-9_+-]+", "-", Path(text).stem).strip("-_+")[:limit].strip("-_+")
    return word if word and valid_name(word) else "job"


def new_job_id(name: str) -> str:
    return f"{slug(name)}-{secrets.token_hex(4)}"


def owner() -> tuple[str, int]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return user, os.getuid()


def spool_relative(spool: Spool, path: Path) -> str:
    """A path as every host sees it: relative to the spool if inside it, else absolute."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(spool.root.resolve())) or "."
    except ValueError:
        return str(resolved)


@dataclass
class ChunkSpec:
    start: int
    end: int
    step: int
    argv: list[str]
    blender: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    encode: dict[str, Any] | None = None  # an encode chunk's fields (render_frontend/encodejob.py)


@dataclass
class JobSpec:
    job: str
    name: str
    kind: str
    chunks: list[ChunkSpec]
    priority: int
    cwd: str = ""
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    max_attempts: int = 3
    details: dict[str, Any] = field(default_factory=dict)
    rules: JobRules = field(default_factory=JobRules)  # tags, hosts, max share, after (render_frontend/schedopts.py)
    hooks: Hooks = field(default_factory=Hooks)  # pre/post/end/error commands (render_frontend/hookopts.py)
    mail: str | None = None  # mail the owner here when the job ends or a chunk fails for good

    def infos(self, user: str, uid: int, created: float) -> list[ChunkInfo]:
        total = len(self.chunks)
        return [
            ChunkInfo(
                job=self.job,
                chunk=chunk_id(self.job, i, total),
                index=i,
                kind=self.kind,
                argv=c.argv,
                start=c.start,
                end=c.end,
                step=c.step,
                cwd=self.cwd,
                env=dict(self.env),
                priority=self.priority,
                owner=user,
                uid=uid,
                created=created,
                timeout=self.timeout,
                max_attempts=self.max_attempts,
                blender=c.blender,
                encode=c.encode,
            )
            for i, c in enumerate(self.chunks, start=1)
        ]


def command_job(spool: Spool, argv: list[str], frames: str, *, per_chunk: int, priority: int, name: str | None,
                cwd: Path, timeout: float | None, max_attempts: int) -> JobSpec:
    """`render add --frames F -- PROGRAM ARGS...` as a JobSpec (UsageError on a bad frame list or a job
    of more chunks than a manifest may list, before a single chunk is built)."""
    runs = chunking.parse_frame_runs(frames)
    chunking.check_size(runs, per_chunk)
    chunks = [ChunkSpec(c.start, c.end, c.step, chunking.expand(argv, c.start, c.end, c.step))
              for c in chunking.chunk_runs(runs, per_chunk)]
    rng = {"start": min(r.start for r in runs), "end": max(r.end for r in runs), "step": runs[0].step}
    listed = {"frame_list": ",".join(r.text() for r in runs)} if len(runs) > 1 else {}
    return JobSpec(
        job=new_job_id(name or argv[0]),
        name=name or Path(argv[0]).name,
        kind="command",
        chunks=chunks,
        priority=priority,
        cwd=spool_relative(spool, cwd),
        timeout=timeout,
        max_attempts=max_attempts,
        details={"argv": argv, "range": rng, "chunk_size": per_chunk, **listed},
    )


def submit(spool: Spool, spec: JobSpec, dry_run: bool = False) -> tuple[Manifest, list[ChunkInfo]]:
    """Write the job's manifest and its chunks (unless `dry_run`); returns both.

    The manifest goes through its reader before anything is written, so a job that could not be
    read back (and so not be cancelled) is refused here with one line."""
    if len(spec.chunks) > MAX_CHUNKS:
        raise UsageError(f"{len(spec.chunks)} chunks: a job holds at most {MAX_CHUNKS} (use a larger --chunk)")
    user, uid = owner()
    created = time.time()
    infos = spec.infos(user, uid, created)
    data: dict[str, Any] = {
        "format": FORMAT,
        "job": spec.job,
        "name": spec.name,
        "kind": spec.kind,
        "owner": user,
        "uid": uid,
        "priority": spec.priority,
        "created": round(created, 3),
        "submitted_ms": int(created * 1000),
        "cwd": spec.cwd,
        "timeout": spec.timeout,
        "max_attempts": spec.max_attempts,
        "frames": sum(len(i.frames) for i in infos),
        "chunks": [{"chunk": i.chunk, "start": i.start, "end": i.end, "step": i.step} for i in infos],
        **spec.details,
    }
    if not spec.rules.is_default:
        data["scheduling"] = spec.rules.as_dict()
    if spec.hooks:
        data["hooks"] = spec.hooks.as_dict()
    if spec.mail is not None:
        data["mail"] = spec.mail
    try:
        manifest = Manifest.from_dict(data)
        manifest.to_bytes()  # refuses a manifest over the readers' size limit
    except BadRecord as err:
        raise UsageError(err.message) from None
    if not dry_run:
        spool.submit(manifest, progressbar.counting(infos, f"writing {len(infos)} chunks"))
    return manifest, infos


def chunk_json(infos: Sequence[ChunkInfo]) -> list[dict[str, Any]]:
    return [{"chunk": i.chunk, "start": i.start, "end": i.end, "step": i.step, "argv": i.argv} for i in infos]


# --------------------------------------------------------------------------- one id per job content


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
            spool.io.mkdir(spool.job_dir(job), exist_ok=False)  # jobs/ swapped for a link: refused, not followed
            return job
        except FileExistsError:
            if not again:
                raise _added_before(base) from None
            n += 1


def submit_unique(spool: Spool, spec: JobSpec, again: bool, dry_run: bool) -> tuple[Manifest, list[ChunkInfo]]:
    """Submit a job whose id is derived from its content (`spec.job` is the base): the same content
    twice is AlreadyAdded unless `again` (then base.2, base.3, ...).  A dry run takes no id but
    answers as the real add would, refusal included."""
    if dry_run:
        return submit(spool, replace(spec, job=next_job_id(spool, spec.job, again)), dry_run=True)
    spool = Spool.open(spool.root, create=True)
    job = reserve_job_id(spool, spec.job, again)
    try:
        return submit(spool, replace(spec, job=job))
    except BaseException:
        if spool.read_manifest(job) is None:
            spool.remove_tree(spool.job_dir(job))  # free the id again (never through a planted link)
        raise
