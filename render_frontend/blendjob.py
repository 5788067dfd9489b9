"""A Blender job from an inspected .blend: which scenes, where their frames go, which frames
still need rendering, the chunks, and the job id (docs/blender.md has the rules).

The plan stage of `render add FILE.blend` (blend_add.py: inspect -> plan -> check -> submit):
`plan()` turns the BlendInfo and the Request into a Plan that holds the whole job (`Plan.spec`).
Everything here decides; it reads the disk only to see what exists (paths, rendered frames, the
file's digest for the job id) and writes nothing (`submit` does that).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from render_frontend import chunking
from render_frontend.blend_inspect import BlendInfo, Scene
from render_frontend.submit import ChunkSpec, JobSpec, slug
from renderd.errors import BadInfoFile, UsageError
from renderd.format import blender_fields
from renderd.format.hooks import Hooks
from renderd.format.rules import JobRules
from renderd.framelist import FrameRun
from renderd.kinds import blender
from renderd.spool import Spool


@dataclass
class Request:
    """What `render add FILE.blend` was asked for."""

    scenes: list[str] = field(default_factory=list)
    all_scenes: bool = False
    frames: str | None = None
    per_chunk: int = 10
    extra: list[str] = field(default_factory=list)  # the words after `render add ... --`
    trust_scripts: bool = False
    local_ok: bool = False
    overwrite: bool = False
    skip_existing: bool = False
    shared_roots: list[Path] = field(default_factory=list)
    # what the manifest records as asked (render add's --priority, --name, --timeout, --max-attempts)
    priority: int = 50
    name: str | None = None
    timeout: float | None = None
    max_attempts: int = 3
    rules: JobRules = field(default_factory=JobRules)  # --tags, --hosts, --max-share, --after, --block-after
    hooks: Hooks = field(default_factory=Hooks)  # --pre, --post, --end, --error (render_frontend/hookopts.py)
    mail: str | None = None  # --mail


@dataclass
class ScenePlan:
    scene: Scene
    start: int
    end: int
    step: int
    output: str  # the frame pattern as recorded in the chunks (spool-relative when inside it)
    chunks: list[tuple[int, int, int]]  # start, end, step of each chunk
    skipped: int  # frames already rendered
    frames: str = ""  # the frame list asked for (renderd/framelist.py), when --frames gave one


@dataclass
class Plan:
    job_base: str
    file: str  # the .blend as recorded: spool-relative, or absolute
    digest: str
    scenes: list[ScenePlan]
    fields: dict[str, Any]  # the blender fields every chunk shares (file, extra, after, ...)
    warnings: list[str]
    spec: JobSpec = field(init=False)  # the whole job, its id still the base (submit picks the final one)

    def chunk_fields(self, p: ScenePlan) -> dict[str, Any]:
        return {**self.fields, "scene": p.scene.name, "output": p.output, "movie": p.scene.movie}

    def chunk_specs(self) -> list[ChunkSpec]:
        return [ChunkSpec(s, e, st, [], blender=self.chunk_fields(p)) for p in self.scenes for s, e, st in p.chunks]


# --------------------------------------------------------------------------- paths


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def record_path(path: Path, spool: Spool, shared_roots: Iterable[Path], local_ok: bool, what: str) -> str:
    """A path as every host can find it: relative to the spool, or absolute under a shared root.

    Anything else is seen only from this host: refused unless `local_ok`."""
    resolved = Path(os.path.realpath(path))
    root = Path(os.path.realpath(spool.root))
    if _inside(resolved, root):
        return str(resolved.relative_to(root)) if resolved != root else "."
    if any(_inside(resolved, Path(os.path.realpath(r))) for r in shared_roots) or local_ok:
        return str(resolved)
    raise UsageError(
        f"{what} {path} is outside the spool ({spool.root}) and outside every shared root, so other hosts "
        "cannot see it: move it into the spool, name a folder every host mounts at the same path with "
        "--shared-root, or pass --local-ok"
    )


def record_output(pattern: str, spool: Spool, request: Request, scene: str) -> str:
    """The frames' pattern as recorded; the folder is checked, the file name kept as Blender makes it."""
    folder, _, name = pattern.rpartition("/")
    base = Path(folder or ".") if folder.startswith("/") else spool.root / (folder or ".")
    # The folder may not exist yet: check the nearest existing ancestor's real place.
    probe = base
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    tail = base.relative_to(probe) if probe != base else Path()
    try:
        recorded = record_path(probe, spool, request.shared_roots, request.local_ok, "output of")
    except UsageError:
        raise UsageError(
            f"scene {scene!r} writes its frames to {pattern}, outside the spool ({spool.root}) and every shared "
            "root: they would land on each host's local disk. Set the scene's output to a path inside the spool "
            "(e.g. //render/ beside the .blend), add --shared-root, or pass --local-ok"
        ) from None
    joined = Path(recorded) / tail if recorded != "." else tail
    return f"{joined}/{name}" if str(joined) not in ("", ".") else name


# --------------------------------------------------------------------------- scenes and frames


def choose_scenes(info: BlendInfo, request: Request) -> list[Scene]:
    if request.scenes and request.all_scenes:
        raise UsageError("give --scene or --all-scenes, not both")
    if request.all_scenes:
        return list(info.scenes)
    names = request.scenes or info.to_render
    chosen = []
    for name in dict.fromkeys(names):
        scene = info.scene(name)
        if scene is None:
            known = ", ".join(repr(s.name) for s in info.scenes)
            raise UsageError(f"{info.path}: no scene {name!r} (the file has {known})")
        chosen.append(scene)
    return chosen


def frame_runs(scene: Scene, frames: str | None) -> list[FrameRun]:
    """The scene's own range, or the --frames list (each item's step defaults to the scene's)."""
    if frames is None:
        if scene.end < scene.start:
            raise UsageError(f"scene {scene.name!r} ends ({scene.end}) before it starts ({scene.start})")
        return [FrameRun(scene.start, range(scene.start, scene.end + 1, scene.step)[-1], scene.step)]
    return chunking.parse_frame_runs(frames, default_step=scene.step)


def frame_done(path: Path, blend_mtime_ns: int, skip_existing: bool) -> bool:
    """Rendered already: complete, and newer than the .blend unless any existing frame counts."""
    if not blender.frame_complete(path):
        return False
    return skip_existing or path.lstat().st_mtime_ns > blend_mtime_ns  # a link never counts (frame_complete)


def runs(frames: Sequence[int], step: int) -> list[tuple[int, int]]:
    """Consecutive stretches (at `step`) of the frames still to render."""
    out: list[tuple[int, int]] = []
    for f in frames:
        if out and f == out[-1][1] + step:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return out


def plan_scene(scene: Scene, output: str, spool: Spool, request: Request, blend_mtime_ns: int) -> ScenePlan:
    items = frame_runs(scene, request.frames)
    chunking.check_size(items, request.per_chunk)
    start, end, step = min(r.start for r in items), max(r.end for r in items), items[0].step
    text = ",".join(r.text() for r in items) if request.frames is not None else ""
    if scene.movie:
        if len(items) > 1:
            raise UsageError(f"scene {scene.name!r} renders a movie: give one range in --frames, not a list")
        return ScenePlan(scene, start, end, step, output, [(start, end, step)], 0, text)
    chunks: list[tuple[int, int, int]] = []
    wanted = todo = 0
    here = str(blender.on_this_host(spool.root, output))
    for item in items:
        frames = list(item.frames)
        if not request.overwrite:
            frames = [
                f for f in frames
                if not frame_done(Path(blender.frame_file(here, f)), blend_mtime_ns, request.skip_existing)
            ]
        wanted, todo = wanted + len(item), todo + len(frames)
        for s, e in runs(frames, item.step):
            chunks += [(c_s, c_e, item.step) for c_s, c_e in chunking.split(s, e, item.step, request.per_chunk)]
    return ScenePlan(scene, start, end, step, output, chunks, wanted - todo, text)


# --------------------------------------------------------------------------- extra arguments


def split_extra(words: Sequence[str]) -> tuple[list[str], list[str]]:
    """`render add f.blend -- A -- B`: A goes before Blender's `-a`, B after Blender's `--`.

    Cycles' own options (`--cycles-device X`) only work after Blender's `--`: moved there."""
    words = list(words)
    if "--" in words:
        i = words.index("--")
        before, after = words[:i], words[i + 1 :]
    else:
        before, after = words, []
    kept: list[str] = []
    moved: list[str] = []
    i = 0
    while i < len(before):
        name = before[i].split("=", 1)[0]
        if name in blender_fields.AFTER_OPTIONS:
            takes = 0 if "=" in before[i] else blender_fields.AFTER_OPTIONS[name]
            moved += before[i : i + 1 + takes]
            i += 1 + takes
        else:
            kept.append(before[i])
            i += 1
    return kept, moved + after


# --------------------------------------------------------------------------- the plan


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def job_base(
    info: BlendInfo, digest: str, scenes: Sequence[ScenePlan], request: Request, fields: dict[str, Any]
) -> str:
    """The same file content, scenes, ranges, chunk size and Blender arguments: the same id."""
    what = {
        "file": digest,
        "scenes": [[p.scene.name, p.frames] if "," in p.frames else [p.scene.name, p.start, p.end, p.step]
                   for p in scenes],
        "chunk": request.per_chunk,
        "extra": fields["extra"],
        "after": fields["after"],
        "trust_scripts": fields["trust_scripts"],
    }
    key = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
    return f"{slug(info.path.name)}-{key[:8]}"


def plan(info: BlendInfo, spool: Spool, request: Request) -> Plan:
    warnings: list[str] = []
    file = record_path(info.path, spool, request.shared_roots, request.local_ok, "the .blend file")
    if file.startswith("/") and not any(_inside(Path(file), Path(os.path.realpath(r))) for r in request.shared_roots):
        warnings.append(f"{info.path} is outside the spool: only hosts that see it at {file} can render it")
    extra, after = split_extra(request.extra)
    try:
        blender_fields.check_extra(extra, request.trust_scripts)
    except BadInfoFile as err:
        raise UsageError(err.message + (" (render add --trust-scripts)" if "trusted" in err.message else "")) from None
    fields = {
        "file": file,
        "extra": extra,
        "after": after,
        "trust_scripts": request.trust_scripts,
        "version": list(info.version),
    }
    blend_mtime = info.path.stat().st_mtime_ns
    plans: list[ScenePlan] = []
    for scene in choose_scenes(info, request):
        if not scene.camera:
            warnings.append(f"scene {scene.name!r} has no camera: Blender cannot render it")
        if scene.movie:
            warnings.append(f"scene {scene.name!r} renders a video ({scene.file_format}): queued as one chunk")
        if not scene.overwrite:
            warnings.append(
                f"scene {scene.name!r} has Overwrite off: Blender skips frames that exist, and renderd "
                "fails chunks whose frames are older than the .blend"
            )
        output = record_output(scene.output_pattern, spool, request, scene.name)
        same = [p.scene.name for p in plans if p.output == output]
        if same:
            warnings.append(f"scenes {same[0]!r} and {scene.name!r} write to the same files ({scene.output_pattern})")
        plans.append(plan_scene(scene, output, spool, request, blend_mtime))
    digest = file_digest(info.path)
    result = Plan(job_base(info, digest, plans, request, fields), file, digest, plans, fields, warnings)
    for p in plans:  # what daemons would quarantine must not be queued
        try:
            blender_fields.validate_fields(result.chunk_fields(p))
        except BadInfoFile as err:
            raise UsageError(f"scene {p.scene.name!r} cannot be queued: {err.message}") from None
    result.spec = _job_spec(result, info, request)
    return result


def _job_spec(plan: Plan, info: BlendInfo, request: Request) -> JobSpec:
    return JobSpec(
        job=plan.job_base,
        name=request.name or info.path.name,
        kind="blender",
        chunks=plan.chunk_specs(),
        priority=request.priority,
        cwd="",
        timeout=request.timeout,
        max_attempts=request.max_attempts,
        rules=request.rules,
        hooks=request.hooks,
        mail=request.mail,
        details={
            "blend": {
                "file": plan.file,
                "sha256": plan.digest,
                "version": list(info.version),
                "scenes": [
                    {
                        "scene": p.scene.name,
                        "start": p.start,
                        "end": p.end,
                        "step": p.step,
                        **({"frames": p.frames} if p.frames else {}),
                        "output": p.output,
                        "skipped": p.skipped,
                    }
                    for p in plan.scenes
                ],
                "chunk_size": request.per_chunk,
                "extra": plan.fields["extra"],
                "after": plan.fields["after"],
                "trust_scripts": request.trust_scripts,
            },
            "blender_version": info.version_text,
        },
    )
