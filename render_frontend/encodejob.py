"""`render add shot.blend --encode mp4`: the job that makes a video of the frames, once they are done.

A job of its own (kind `encode`, renderd/kinds/encode.py) that waits for the frames' job
(`scheduling.after`, docs/scheduling.md): one chunk per scene, over the scene's frames, at the
scene's frame rate (r.frs_sec / r.frs_sec_base, read by blend_inspect.py), writing
`<file>.<container>` (or `<file>-<scene>.<container>` when several scenes are rendered) beside
the frames.  Its id is the frames job's id plus the container (`shot-1a2b.mp4`).
"""

from __future__ import annotations

from render_frontend.blend_inspect import BlendInfo
from render_frontend.blendjob import Plan
from render_frontend.submit import ChunkSpec, JobSpec, slug
from renderd.errors import UsageError
from renderd.format.encode_fields import validate_encode
from renderd.format.rules import JobRules


def video_name(info: BlendInfo, scene: str, several: bool, container: str) -> str:
    stem = slug(info.path.name, 64)
    if several:
        stem = f"{stem}-{slug(scene, 64)}"
    return f"{stem}.{container}"


def encode_spec(plan: Plan, info: BlendInfo, frames_job: str, container: str, spec: JobSpec) -> JobSpec:
    """The encode job for the frames of `frames_job`; UsageError with a sentence when it cannot be made."""
    chunks = []
    several = len(plan.scenes) > 1
    for p in plan.scenes:
        if p.scene.movie:
            raise UsageError(f"--encode: scene {p.scene.name!r} renders a video itself ({p.scene.file_format}), "
                             "not frames")
        if p.frames and "," in p.frames:
            raise UsageError("--encode: a video needs one frame range, not a list (--frames START-END[:STEP])")
        fields = {"frames": p.output, "fps": p.scene.fps, "container": container,
                  "video": video_name(info, p.scene.name, several, container)}
        validate_encode(fields)
        chunks.append(ChunkSpec(p.start, p.end, p.step, [], encode=fields))
    return JobSpec(
        job=f"{frames_job}.{container}",
        name=f"{spec.name} ({container})"[:64],
        kind="encode",
        chunks=chunks,
        priority=spec.priority,
        timeout=spec.timeout,
        max_attempts=spec.max_attempts,
        rules=JobRules(after=(frames_job,)),
        details={"encode": {"of": frames_job, "container": container,
                            "videos": [c.encode["video"] for c in chunks if c.encode]}},
    )
