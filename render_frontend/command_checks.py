"""`render add --frames F -- PROGRAM ...`: what a command job is checked for at `add`, where the user sees it.

What is checked here, and why at submission: a `--cwd` that does not exist would make every
chunk fail in milliseconds on every host (three attempts, then failed/); a name longer than a
job id holds would be cut silently; a job of more chunks than a manifest may list could not be
written (and a million-chunk dry run took 21 s and 1.2 GB before saying anything).  The path
rule of .blend jobs (inside the spool or a shared root, docs/blender.md) is a warning here: a
command may rightly run in a folder each host has of its own (/tmp, a local scratch disk).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from renderd.errors import UsageError
from renderd.spool import Spool

NAME_LIMIT = 24  # the job id is <name>-<8 hex digits> (submit.slug)


def check_name(name: str | None) -> None:
    if name is not None and len(name) > NAME_LIMIT:
        raise UsageError(f"--name {name[:NAME_LIMIT]}...: at most {NAME_LIMIT} characters (it starts the job id), "
                         f"this one has {len(name)}")


def check_cwd(cwd: Path) -> Path:
    """The working folder must exist and be a folder we can enter, here and now."""
    path = cwd.expanduser().absolute()
    if not path.exists():
        raise UsageError(f"--cwd {path}: no such folder (every chunk would fail before it starts)")
    if not path.is_dir():
        raise UsageError(f"--cwd {path}: not a folder")
    if not os.access(path, os.X_OK):
        raise UsageError(f"--cwd {path}: cannot enter it (permission denied)")
    return path


def path_rule_warning(spool: Spool, cwd: Path, shared_roots: Sequence[Path], local_ok: bool) -> str | None:
    """The .blend path rule, as a warning for a command's working folder (None: it is fine)."""
    real = Path(os.path.realpath(cwd))
    roots = [Path(os.path.realpath(spool.root)), *(Path(os.path.realpath(r)) for r in shared_roots)]
    if local_ok or any(real == r or r in real.parents for r in roots):
        return None
    return (f"--cwd {cwd} is outside the spool ({spool.root}) and every shared root: each host runs the command "
            "in its own folder of that name (the rule .blend jobs follow, docs/blender.md). Pass --shared-root "
            "for a folder every host mounts there, or --local-ok if each host's own is meant")
