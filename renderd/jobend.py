"""A job's end, told exactly once in the whole farm: who runs its --end hook and sends its mail.

Several daemons can record a job's last chunks at the same moment, on different hosts.  Each
one that sees, after its own done record, that no chunk of the job is left queued or claimed
and that every chunk of the manifest has a done record, tries to make the folder
`jobs/<job>/ended` (one mkdir).  mkdir is atomic on every file system a spool lives on, NFS
and FUSE included (unlike a lock, which may be host-local), so exactly one of them makes it:
that daemon runs the end hook and emits `job-done`; the others see EEXIST and do nothing.

At most once, not at least once: a daemon killed between its mkdir and its hook leaves the job
ended without the hook having run (its log says nothing).  `render retry` of a done job does
not end it a second time.
"""

from __future__ import annotations

import logging
import os

from renderd.format.manifest import Manifest
from renderd.spool import Spool

log = logging.getLogger(__name__)
ENDED = "ended"


def nothing_left(spool: Spool, job: str) -> bool:
    """No chunk of the job is queued or claimed any more: two listings, no record read.  Checked
    first, on every done chunk, so the manifest is read only once the job may have ended."""
    qdir = spool.queue_dir_of(job)
    if qdir is not None and spool.queued_chunks(qdir):
        return False
    return not any(c.job == job for c in spool.claims())


def all_done(spool: Spool, manifest: Manifest) -> bool:
    """Every chunk of the manifest has a done record."""
    names = set(spool.names(spool.job_dir(manifest.job) / "done"))
    return all(f"{c.chunk}.json" in names for c in manifest.chunks)


def claim_end(spool: Spool, job: str) -> bool:
    """True for the one caller in the farm that ends this job (mkdir jobs/<job>/ended)."""
    try:
        spool.io.mkdir(spool.job_dir(job) / ENDED, 0o755, exist_ok=False)
    except FileExistsError:
        _planted(spool, job)
        return False
    except OSError as err:
        log.warning("cannot mark job %s as ended: %s", job, err)
        return False
    return True


def _planted(spool: Spool, job: str) -> None:
    """Say so when `ended` was not made by a daemon (this one's user or root): anyone who may write
    the 2775 job folder can make it first and keep the end hook from running.  It is not taken
    away and made again: a daemon of another user would then end the job a second time
    (docs/security.md, "Hooks")."""
    try:
        uid = spool.io.lstat(spool.job_dir(job) / ENDED).st_uid
    except OSError:
        return
    if uid not in (0, os.getuid()):
        log.warning("job %s's end hook not run: jobs/%s/ended was made by uid %d, not by a daemon", job, job, uid)
