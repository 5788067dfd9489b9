"""`render clean [--older-than 7d]`: keep a spool small for years.

Removes, once older than the limit: finished (done or cancelled) jobs with all their records
and logs, logs of chunks that are done, rotated event logs, quarantined files, lock files and
leftovers of interrupted writes.  Jobs are only removed for users who may change them (owner,
root, admin group); the rest is farm litter anyone may sweep."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import click

from render_frontend import hostrecords, terminal
from render_frontend.client import Connection, DaemonUnreachable
from render_frontend.context import Context, pass_ctx
from render_frontend.farm import JobView, snapshot
from renderd import protocol
from renderd.access import job_owner, may_change_job
from renderd.duration import NON_NEGATIVE, is_bare_number
from renderd.spool import Spool

MIN_LITTER_AGE = 3600.0  # tmp/ and locks/ hold live files for seconds: never touch younger ones


def parse_age(ctx: click.Context, param: click.Parameter, value: str | float) -> float:
    """A duration (renderd/duration.py).  A bare number here has always meant days: it still does, with a
    deprecation line, so old cron lines keep their meaning until they are rewritten (docs/config.md)."""
    if isinstance(value, str) and is_bare_number(value):
        terminal.echo(f"Warning: --older-than {value.strip()}: a bare number here means days (deprecated: write "
                      f"{value.strip()}d; a later version reads it as seconds, like every other time option)",
                      err=True)
        return float(value) * 86400
    return NON_NEGATIVE.convert(value, param, ctx)


@click.command("clean")
@click.option("--older-than", "age", default="7d", show_default=True, callback=parse_age,
              help="Only what is older than this, e.g. 12h, 7d, 2w.")
@click.option("--hosts-older-than", "host_age", type=NON_NEGATIVE,
              help="Also remove the records of hosts not seen for this long, e.g. 30d (live hosts are kept).")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON (see docs/json.md).")
@pass_ctx
def command(ctx: Context, age: float, host_age: float | None, dry_run: bool, as_json: bool) -> None:
    """Remove finished jobs' records, old logs, rotated events, quarantined files and stale locks."""
    spool = ctx.spool()
    cutoff = time.time() - age
    report: dict[str, Any] = {"dry_run": dry_run, "older_than": age, "jobs": [], "skipped_jobs": [],
                              "files": {"logs": 0, "events": 0, "bad": 0, "locks": 0, "tmp": 0, "sockets": 0},
                              "bytes": 0}
    farm = snapshot(spool)
    groups = {r.admin_group for r in farm.hosts.values() if r.admin_group is not None}
    for view in farm.jobs.values():
        if view.state in ("done", "cancelled") and _last_activity(view) < cutoff:
            owner_uid, _ = job_owner(spool.job_dir(view.job))  # the files' owner, not a uid in them
            if not may_change_job(os.getuid(), os.getgid(), owner_uid, groups):
                report["skipped_jobs"].append(view.job)
                continue
            report["bytes"] += spool.tree_size(spool.job_dir(view.job))
            report["jobs"].append(view.job)
            if not dry_run:
                spool.remove_job(view.job)
        else:
            finished = set(view.done) | set(view.cancelled)
            chunk_of_log = re.compile(re.escape(view.job) + r"-\d+(?=\.)")
            for path in spool.job_logs(view.job):
                m = chunk_of_log.match(path.name)
                if m is not None and m[0] in finished:  # failed and running chunks keep their logs
                    _remove_if_old(spool, path, cutoff, "logs", report, dry_run)
    for kind, paths in spool.litter().items():
        limit = min(cutoff, time.time() - MIN_LITTER_AGE) if kind in ("tmp", "locks") else cutoff
        for path in paths:
            _remove_if_old(spool, path, limit, kind, report, dry_run)
    for path in dead_sockets(spool):  # left by daemons of this spool that were killed on this machine
        report["files"]["sockets"] += 1
        if not dry_run:
            path.unlink(missing_ok=True)
    if host_age is not None:
        report["hosts"] = hostrecords.stale(spool, host_age)
        for name in report["hosts"] if not dry_run else []:
            hostrecords.forget(spool, name)
    if as_json:
        terminal.echo(json.dumps(report))
        return
    verb = "would remove" if dry_run else "removed"
    files = ", ".join(f"{n} {k}" for k, n in report["files"].items() if n) or "no other files"
    if "hosts" in report:
        files += f", {len(report['hosts'])} host record(s)"
    terminal.echo(f"{verb} {len(report['jobs'])} finished job(s) and {files} ({report['bytes'] / 2**20:.1f} MiB)",
               err=True)
    if report["skipped_jobs"]:
        terminal.echo(f"left {len(report['skipped_jobs'])} finished job(s) of other users (only their owners, root "
                   "or the admin group may remove them)", err=True)


def dead_sockets(spool: Spool) -> list[Path]:
    """This machine's sockets of the spool that no daemon answers on (ours to remove only)."""
    dead = []
    for path in protocol.find_sockets(spool.root):
        try:
            if os.lstat(path).st_uid != os.getuid():
                continue
            Connection(path, timeout=2.0).close()
        except DaemonUnreachable:
            dead.append(path)
        except OSError:
            continue
    return dead


def _last_activity(view: JobView) -> float:
    times = [view.manifest.created]
    times += [r.finished for r in view.done.values() if r.finished is not None]
    times += [r.time for r in view.cancelled.values() if r.time is not None]
    return max(times)


def _remove_if_old(spool: Spool, path: Path, cutoff: float, kind: str, report: dict[str, Any], dry_run: bool) -> None:
    """Through the spool's I/O layer: a folder on the way swapped for a link since the listing
    (e.g. `bad/ -> someone's shot`) is refused, never followed; a link is removed, not its target."""
    try:
        st = spool.io.lstat(path)
    except OSError:  # gone, or no longer inside the spool's real folders
        return
    if st.st_mtime >= cutoff:
        return
    try:
        size = spool.tree_size(path)
        if not dry_run:
            spool.remove_tree(path)
    except OSError:
        return
    report["bytes"] += size
    report["files"][kind] += 1
