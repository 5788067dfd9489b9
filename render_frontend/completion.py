"""Shell completion of job ids, chunk ids and host names, read from the spool.

click completes commands and options itself; these callbacks add what only the spool knows.
Enable it once per shell (docs/completion in README.md):

    eval "$(_RENDER_COMPLETE=bash_source render)"      # zsh_source / fish_source for other shells
    eval "$(_RENDERD_COMPLETE=bash_source renderd)"

A callback never fails: with no spool, or an unreadable one, it offers nothing.  What it offers
comes from the spool, so the shell shows it: help texts have their control characters made
visible (terminal.visible), and a chunk id holding one is not offered at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from render_frontend.terminal import visible
from renderd.errors import RenderdError
from renderd.spool import Spool

MAX_DESCRIBED = 50  # reading each job's manifest for its name costs a file; only for short lists


def _spool(ctx: click.Context) -> Spool | None:
    value = ctx.find_root().params.get("spool") or os.environ.get("RENDERD_SPOOL")
    if not value:
        return None
    try:
        return Spool.open(Path(value))
    except (RenderdError, OSError):
        return None


def jobs(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    spool = _spool(ctx)
    if spool is None:
        return []
    try:
        names = [j for j in spool.list_jobs() if j.startswith(incomplete)]
        if len(names) > MAX_DESCRIBED:
            return [CompletionItem(j) for j in names]
        items = []
        for job in names:
            manifest = spool.read_manifest(job)
            items.append(CompletionItem(job, help=visible(manifest.name) if manifest is not None else ""))
        return items
    except (RenderdError, OSError):
        return []


def job_or_chunk(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """JOB, or JOB:CHUNK once a job id and a colon are typed."""
    if ":" not in incomplete:
        return jobs(ctx, param, incomplete)
    spool = _spool(ctx)
    job, _, prefix = incomplete.partition(":")
    manifest = spool.read_manifest(job) if spool is not None else None
    if manifest is None:
        return []
    return [CompletionItem(f"{job}:{c.chunk}") for c in manifest.chunks if c.chunk.startswith(prefix)]


def hosts(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    spool = _spool(ctx)
    if spool is None:
        return []
    try:
        records = spool.hosts()
    except (RenderdError, OSError):
        return []
    return [
        CompletionItem(name, help=visible(rec.state))
        for name, rec in sorted(records.items())
        if name.startswith(incomplete)
    ]
