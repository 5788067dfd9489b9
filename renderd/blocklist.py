"""The blocklist in the spool (Flamenco's rule): after N failed attempts of one job on one host,
that host takes no more chunks of the job until `render unblock JOB HOST`.

The records are in renderd/format/blocklist.py; this module reads and writes them through the
spool's I/O layer, for the daemons (each counts its own failures) and the front-end (`render
unblock`, `render status`, `render hosts`).  Who may forgive is the job's owner (the owner of
its folder, access.job_owner), root, or an admin: `unblocked.json` written by anyone else is
ignored, like a control file.
"""

from __future__ import annotations

from collections.abc import Iterable

from renderd.access import job_owner, may_change_job
from renderd.errors import BadRecord
from renderd.format.blocklist import MAX_BLOCKLIST_BYTES, HostFailures, Unblocked
from renderd.format.info import now
from renderd.format.names import valid_name
from renderd.spool import Spool


def read_failures(spool: Spool, job: str, host: str) -> HostFailures | None:
    """One host's record of its failures of a job (None: it never failed it, or the record is bad)."""
    if not valid_name(host, 64):
        return None
    rec = spool.read_record(spool.job_dir(job) / "failures" / f"{host}.json", HostFailures.from_bytes,
                            MAX_BLOCKLIST_BYTES)
    return rec if rec is not None and rec.job == job else None


def all_failures(spool: Spool, job: str) -> dict[str, int]:
    """Every host's failed attempts of the job, by host."""
    folder = spool.job_dir(job) / "failures"
    out: dict[str, int] = {}
    for name in spool.names(folder):
        if name.endswith(".json"):
            rec = read_failures(spool, job, name[:-5])
            if rec is not None:
                out[rec.host] = rec.failures
    return out


def record_failure(spool: Spool, job: str, host: str, chunk: str, before: int) -> HostFailures:
    """Write this host's count of failures of `job` as `before + 1` (only `host` writes this file)."""
    rec = HostFailures(job, host, before + 1, chunk, round(now(), 3))
    folder = spool.ensure_job_dir(job, "failures")
    spool.write_atomic(folder / f"{host}.json", rec.to_bytes())
    return rec


def read_unblocked(spool: Spool, job: str, admins: Iterable[str] = ()) -> Unblocked:
    """What the job's owner forgave (an empty record when none, or when its writer may not change the job)."""
    path = spool.job_dir(job) / "unblocked.json"
    try:
        raw, uid = spool.io.read_with_owner(path, MAX_BLOCKLIST_BYTES)
    except OSError:
        return Unblocked(job)
    try:
        rec = Unblocked.from_bytes(raw, path, uid)
    except BadRecord:
        return Unblocked(job)
    owner, _ = job_owner(spool.job_dir(job))
    if rec.job != job or not may_change_job(uid, -1, owner, list(admins)):
        return Unblocked(job)
    return rec


def blocked_hosts(spool: Spool, job: str, block_after: int, admins: Iterable[str] = ()) -> dict[str, int]:
    """Hosts blocked from the job now, with their failures not forgiven."""
    counts = {h: n for h, n in all_failures(spool, job).items() if n >= block_after}
    if not counts:
        return {}  # (most jobs: one listing, no read)
    forgiven = read_unblocked(spool, job, admins)
    out = {}
    for host, failures in counts.items():
        left = failures - forgiven.forgiven(host)
        if left >= block_after:
            out[host] = left
    return out


def unblock(spool: Spool, job: str, host: str, by: str) -> int:
    """Forgive every failure of `host` so far (`render unblock`); the number forgiven now."""
    rec = read_failures(spool, job, host)
    current = read_unblocked(spool, job)
    count = 0 if rec is None else rec.failures
    hosts = dict(current.hosts) | {host: count}
    spool.write_atomic(spool.job_dir(job) / "unblocked.json",
                       Unblocked(job, hosts, by, round(now(), 3)).to_bytes(), sync_dir=True)
    return count - current.forgiven(host)
