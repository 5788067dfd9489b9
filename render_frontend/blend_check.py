"""The check stage of `render add FILE.blend` (blend_add.py: inspect -> plan -> check -> submit).

What the user is told before a job is queued, from what the earlier stages found: the plan's own
warnings (no camera, a video, Overwrite off, two scenes writing the same files, a file only some
hosts see) and the file's missing dependencies, which `--strict` turns into a refusal.  Nothing
here reads the .blend again: the dependencies come with the BlendInfo (blend_inspect.inspect).
"""

from __future__ import annotations

from render_frontend.blend_inspect import BlendInfo
from render_frontend.blendjob import Plan
from renderd.errors import RenderdError


class MissingDependencies(RenderdError):
    """--strict and the .blend needs files that are not there."""


def check(info: BlendInfo, plan: Plan, strict: bool) -> list[str]:
    """The warnings to print, in order; MissingDependencies when `strict` and a dependency is missing."""
    warnings = list(plan.warnings)
    missing = [d for d in info.dependencies or () if not d.exists]
    if missing:
        listed = ", ".join(f"{d.kind} {d.path}" for d in missing)
        if strict:
            raise MissingDependencies(f"missing dependencies: {listed} (--strict refuses to queue)", info.path)
        warnings.append(f"{info.path}: missing dependencies: {listed}")
    return warnings
