"""`render add`'s scheduling options (docs/scheduling.md): --tags, --hosts, --max-share,
--block-after, --after, --gpu, --encode, turned into the manifest's rules (renderd/format/rules.py).

--after names only jobs that exist when the new job is added, so a dependency cycle cannot be
written: every job waits only for older ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from renderd.errors import BadRecord, SpoolError, UsageError
from renderd.format.names import valid_name
from renderd.format.rules import DEFAULT_BLOCK_AFTER, MAX_AFTER, MAX_BLOCK_AFTER, JobRules, Share, parse_tags
from renderd.spool import Spool

F = TypeVar("F", bound=Callable[..., Any])
ENCODINGS = ("mp4", "mov", "webm")


def options(func: F) -> F:
    """The options, in the order `render add --help` lists them."""
    for opt in reversed([
        click.option("--tags", default="", help="Run only on hosts that have every one of these tags "
                     "(comma-separated; `renderd --tags`)."),
        click.option("--hosts", "host_list", default=None, help="Run only on these hosts (comma-separated names)."),
        click.option("--max-share", default=None, help="At most this many chunks at once: a slot count (3) or a "
                     "percentage of the farm's live slots (50%)."),
        click.option("--block-after", default=DEFAULT_BLOCK_AFTER, show_default=True,
                     type=click.IntRange(1, MAX_BLOCK_AFTER),
                     help="A host that failed this job so many times takes no more of it (render unblock)."),
        click.option("--after", "after_jobs", multiple=True, metavar="JOB",
                     help="Start only when JOB is done, every chunk succeeded (repeatable; an existing job)."),
        click.option("--gpu", is_flag=True, help="Run only on daemons that render on a GPU (`renderd --device`)."),
        click.option("--encode", type=click.Choice(ENCODINGS), default=None,
                     help="[.blend] After the frames, make a video beside them with ffmpeg (a job of its own)."),
    ]):
        func = opt(func)
    return func


def rules(spool: Spool | None, tags: str, host_list: str | None, max_share: str | None, block_after: int,
          after: tuple[str, ...], gpu: bool = False) -> JobRules:
    """The rules asked for; UsageError with one sentence for a bad value or an unknown job."""
    try:
        tag_set = parse_tags(tags)
        share = None if max_share is None else Share.parse(max_share)
    except ValueError as err:
        raise UsageError(str(err)) from None
    hosts = None
    if host_list is not None:
        names = [h.strip() for h in host_list.split(",") if h.strip()]
        bad = [h for h in names if not valid_name(h, 64)]
        if bad or not names:
            raise UsageError(f"--hosts: {bad[0]!r} is not a host name" if bad else "--hosts: name at least one host")
        hosts = frozenset(names)
    waits = tuple(dict.fromkeys(after))
    if len(waits) > MAX_AFTER:
        raise UsageError(f"--after: at most {MAX_AFTER} jobs")
    for job in waits:
        check_exists(spool, job)
    return JobRules(tags=tag_set, hosts=hosts, max_share=share, after=waits, block_after=block_after,
                    gpu=gpu)


def check_exists(spool: Spool | None, job: str) -> None:
    """--after JOB: the job must be in the spool now (so no cycle can ever be written)."""
    if not valid_name(job):
        raise UsageError(f"--after: {job!r} is not a job id")
    try:
        if spool is None:
            raise SpoolError(f"no job {job!r}", "")
        spool.load_manifest(job)
    except SpoolError:
        raise UsageError(f"--after: no job {job!r} in the spool (only existing jobs can be waited for)") from None
    except BadRecord as err:
        raise UsageError(f"--after: job {job!r} is unreadable ({err.message})") from None
