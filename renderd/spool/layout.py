"""Where each kind of file lives in the spool: one path function per file kind, and `state_of`.

The layout is the protocol: a chunk's state *is* the folder its info file is in (nq's rule,
../shared/STYLE.md), so the one place that builds these paths is also the one that reads a
state back from a path.  No I/O here (docs/spool-format.md is the user-facing description).
"""

from __future__ import annotations

import re
from pathlib import Path

from renderd.format.names import NAME, ClaimName, QueueDir
from renderd.states import ChunkState

MARKER = "renderd-spool.toml"
LAYOUT = ("jobs", "queue", "claimed", "failed", "bad", "hosts", "events", "stats", "tmp", "locks")

# What `render clean` may sweep: the names renderd itself makes in bad/, tmp/ and locks/.
_STEM = r"[A-Za-z0-9_][^/]*"
BAD_RE = re.compile(rf"^{_STEM}\.[0-9a-f]{{8}}(?:\.reason)?$")  # move_aside: <name[:200]>.<nonce>
TMP_RE = re.compile(  # write_atomic's .<pid>.<nonce>.tmp, submit's .staging, .new, take_over's .<why>.<pid>.<nonce>
    rf"^{_STEM}\.(?:\d+\.[0-9a-f]{{8}}\.tmp|[0-9a-f]{{8}}\.(?:staging|new)|[a-z]+\.\d+\.[0-9a-f]{{8}})$")
LOCK_RE = re.compile(rf"^{NAME}\.lock$")
ASIDE_RE = re.compile(r"^\.unsafe-bad\.[0-9a-f]{8}$")  # a bad/ that was a link, moved aside by repair_layout

# The folder a chunk's file is in -> its state (jobs/<job>/<sub>/ for the two kept as records).
_STATE_OF_FOLDER = {"queue": ChunkState.QUEUED, "claimed": ChunkState.CLAIMED, "failed": ChunkState.FAILED,
                    "bad": ChunkState.BAD}
_STATE_OF_RECORDS = {"done": ChunkState.DONE, "cancelled": ChunkState.CANCELLED}


def is_spool(path: Path) -> bool:
    return (path / MARKER).is_file()


def state_of(root: Path, path: Path) -> ChunkState | None:
    """The state a chunk whose file is at `path` is in; None for anywhere else (tmp/, where a
    file taken over for a change waits: its taker knows what it was)."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return None
    if len(parts) == 3 and parts[0] == "queue":
        return ChunkState.QUEUED
    if len(parts) == 2 and parts[0] in _STATE_OF_FOLDER:
        return _STATE_OF_FOLDER[parts[0]]
    if len(parts) == 4 and parts[0] == "jobs" and parts[2] in _STATE_OF_RECORDS:
        return _STATE_OF_RECORDS[parts[2]]
    return None


class Layout:
    """The path functions of one spool root (pure: nothing is touched)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def state_of(self, path: Path) -> ChunkState | None:
        return state_of(self.root, path)

    def job_dir(self, job: str) -> Path:
        return self.root / "jobs" / job

    def manifest_path(self, job: str) -> Path:
        return self.job_dir(job) / "manifest.json"

    def control_path(self, job: str) -> Path:
        """`jobs/<job>/control.json`: paused / cancelled, written by `render`."""
        return self.job_dir(job) / "control.json"

    def done_path(self, job: str, chunk: str) -> Path:
        return self.job_dir(job) / "done" / f"{chunk}.json"

    def cancelled_path(self, job: str, chunk: str) -> Path:
        return self.job_dir(job) / "cancelled" / f"{chunk}.json"

    def log_path(self, job: str, chunk: str, host: str, run: int) -> Path:
        return self.job_dir(job) / "logs" / f"{chunk}.{host}.{run}.log"

    def queue_path(self, qdir: QueueDir, chunk: str) -> Path:
        return self.root / "queue" / qdir.name / f"{chunk}.info"

    def claimed_path(self, claim: ClaimName) -> Path:
        return self.root / "claimed" / claim.filename

    def heartbeat_path(self, claim: ClaimName) -> Path:
        return self.root / "claimed" / (claim.filename + ".hb")

    def failed_path(self, chunk: str) -> Path:
        return self.root / "failed" / f"{chunk}.info"

    def failed_reason_path(self, chunk: str) -> Path:
        return self.root / "failed" / f"{chunk}.info.reason"

    def lock_path(self, chunk: str) -> Path:
        return self.root / "locks" / f"{chunk}.lock"

    def host_path(self, name: str) -> Path:
        return self.root / "hosts" / f"{name}.json"

    def host_control_path(self, name: str) -> Path:
        """`hosts/<name>.control`: the owner's standing order for a host (pause / drain); read by its daemon."""
        return self.root / "hosts" / f"{name}.control"

    def event_log_path(self, daemon: str) -> Path:
        """events/<daemon>.jsonl; rotated copies are <daemon>.jsonl.1, .2, ..."""
        return self.root / "events" / f"{daemon}.jsonl"

    def stats_log_path(self, daemon: str) -> Path:
        """stats/<daemon>.jsonl (renderd.statslog); rotated copies are <daemon>.jsonl.1, .2, ..."""
        return self.root / "stats" / f"{daemon}.jsonl"
