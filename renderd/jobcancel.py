"""Cancelling a job's queued and failed chunks: the spool moves both `render cancel` and the daemons make.

Apart from daemon/jobguard.py (the daemon's reaction to control files, which needs its runs), so the
front-end reaches these moves without importing the daemon's runner.  Every move goes through the
spool (`take_over` renames the file to a private name first, so when a daemon and a user act at
the same moment exactly one of them moves each chunk)."""

from __future__ import annotations

import logging
from pathlib import Path

from renderd.errors import BadInfoFile
from renderd.format.names import job_of_chunk
from renderd.spool import Spool
from renderd.states import ChunkState

log = logging.getLogger(__name__)


def cancel_queued(spool: Spool, job: str, by: str) -> list[str]:
    """Move the job's queued chunks to jobs/<job>/cancelled/ records; returns their ids."""
    done: list[str] = []
    for qdir in spool.queue_dirs():
        if qdir.job != job:
            continue
        for chunk in spool.queued_chunks(qdir):
            if _cancel_file(spool, spool.queue_path(qdir, chunk), ChunkState.QUEUED, by):
                done.append(chunk)
        spool.remove_empty_queue_dir(qdir)
    return done


def cancel_failed(spool: Spool, job: str, by: str) -> list[str]:
    """Failed chunks of a cancelled job become cancelled records too (`retry` would revive them)."""
    out = []
    for chunk in spool.failed_chunks():
        if job_of_chunk(chunk) == job and _cancel_file(spool, spool.path("failed", f"{chunk}.info"),
                                                       ChunkState.FAILED, by):
            spool.unlink(spool.path("failed", f"{chunk}.info.reason"))
            out.append(chunk)
    return out


def _cancel_file(spool: Spool, src_path: Path, old: ChunkState, by: str) -> bool:
    taken = spool.take_over(src_path, "cancel")
    if taken is None:
        return False  # claimed meanwhile: the daemon that holds it stops it
    try:
        info = spool.read_info(taken)
    except BadInfoFile as err:
        log.warning("quarantined %s while cancelling: %s", src_path.name, err.message)
        spool.quarantine(taken, err.message, old)
        return False
    spool.record_cancelled(taken, info, old, by)
    return True
