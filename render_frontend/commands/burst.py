"""`render burst --slurm N`: borrow N nodes of a Slurm cluster as pilots; `--status` shows them.

A pilot is a plain `renderd --pilot` started by a Slurm job array (docs/burst.md): it claims
chunks by the same protocol as every workstation, names itself after its node and job ids,
and leaves when nothing it may run is queued (`--idle-exit`) or before the job's time limit.
Slurm does the scheduling; renderd only writes the batch script.  The script is written by
this command from its own options (never from spool content) and kept in the spool, at
SPOOL/burst/<id>/pilot.sbatch, with burst.json beside it (what was submitted, and the job id
`sbatch` returned) and the pilots' output logs.  `sbatch` runs from an argument list, never
through a shell.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from render_frontend import terminal
from render_frontend.context import Context, pass_ctx
from renderd.duration import Duration

BURST_DIR = "burst"
FORMAT = 1
_TIME_RE = re.compile(r"^(?:\d+-)?\d+(?::\d{1,2}){0,2}$")  # Slurm's --time: M, M:S, H:M:S, D-H[:M[:S]]
_PARTITION_RE = re.compile(r"^[A-Za-z0-9_.,-]{1,64}$")
_JOB_RE = re.compile(r"^[A-Za-z0-9_.+-]{1,160}$")


def _check(pattern: re.Pattern[str], what: str) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is not None and not pattern.match(value):
            raise click.BadParameter(f"{value!r} is not {what}")
        return value

    return callback


def renderd_program() -> str:
    """The `renderd` the pilots run: the one installed beside this `render`, else the one on PATH."""
    beside = Path(sys.argv[0]).absolute().with_name("renderd")
    if os.access(beside, os.X_OK):
        return str(beside)
    venv = Path(sys.executable).with_name("renderd")
    if os.access(venv, os.X_OK):
        return str(venv)
    found = shutil.which("renderd")
    if found is None:
        raise click.ClickException("cannot find the renderd program to run on the nodes; pass --renderd PATH")
    return os.path.abspath(found)


def batch_script(
    *,
    spool: Path,
    folder: Path,
    pilots: int,
    renderd: str,
    idle_exit: float,
    partition: str | None,
    time_limit: str | None,
    job: str | None,
    slots: int,
    renderd_args: tuple[str, ...] = (),
) -> str:
    """The pilots' batch script: #SBATCH lines from validated options, one `exec renderd`."""
    lines = [
        "#!/bin/sh",
        f"# written by `render burst` on {time.strftime('%Y-%m-%d %H:%M:%S %Z')}: {pilots} renderd pilot(s)",
        "#SBATCH --job-name=renderd-pilot",
        f"#SBATCH --array=0-{pilots - 1}",
        f"#SBATCH --output={folder}/pilot-%A_%a.log",
        f"#SBATCH --cpus-per-task={slots}",
    ]
    if partition is not None:
        lines.append(f"#SBATCH --partition={partition}")
    if time_limit is not None:
        lines.append(f"#SBATCH --time={time_limit}")
    argv = [renderd, "--spool", str(spool), "--pilot", "--when", "always", "--idle-exit", f"{idle_exit:g}",
            "--slots", str(slots)]
    if job is not None:
        argv += ["--job", job]
    argv += renderd_args
    lines += ["# exec: the pilot is the job's process, so Slurm's signals reach it", "exec " + shlex.join(argv), ""]
    return "\n".join(lines)


def _no_slurm(tool: str) -> click.ClickException:
    return click.ClickException(f"`{tool}` is not installed here: render burst needs Slurm's client tools on PATH")


def submit(sbatch: str, script: str, folder: Path, sbatch_args: tuple[str, ...], record: dict[str, Any]) -> str:
    """Write the script and its record into `folder`, run sbatch on it; returns Slurm's job id."""
    folder.mkdir(parents=True, exist_ok=False)
    script_path = folder / "pilot.sbatch"
    fd = os.open(script_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as fh:
        fh.write(script)
    argv = [sbatch, "--parsable", *sbatch_args, str(script_path)]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=folder, check=False)
    except subprocess.TimeoutExpired:
        raise click.ClickException("sbatch did not answer within 120 s (is slurmctld running?)") from None
    if out.returncode != 0:
        reason = " ".join(out.stderr.split())[:300] or f"exit code {out.returncode}"
        raise click.ClickException(f"sbatch refused the pilots ({script_path}): {reason}")
    job_id = out.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise click.ClickException(f"sbatch answered {out.stdout.strip()!r}, not a job id ({script_path})")
    _write_record(folder, {**record, "slurm_job": job_id})
    return job_id


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    tmp = folder / f".burst.json.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh, indent=1)
    os.rename(tmp, folder / "burst.json")


@click.command("burst")
@click.option("--slurm", "pilots", type=click.IntRange(1, 10000), help="Submit this many pilots as a Slurm job array.")
@click.option("--partition", callback=_check(_PARTITION_RE, "a partition name"), help="Slurm partition.")
@click.option("--time", "time_limit", callback=_check(_TIME_RE, "a Slurm time (e.g. 2:00:00)"),
              help="Slurm time limit per pilot, e.g. 2:00:00 (pilots leave before it ends).")
@click.option("--job", callback=_check(_JOB_RE, "a job id"), help="Pilots run only this job's chunks.")
@click.option("--idle-exit", type=Duration(1, maximum=86400), default="60s", show_default=True,
              help="A pilot leaves when nothing it may run was queued for this long, e.g. 2m.")
@click.option("--slots", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Chunks each pilot runs at once (and CPUs it asks of Slurm).")
@click.option("--sbatch-arg", "sbatch_args", multiple=True, metavar="ARG",
              help="One more argument for sbatch (repeatable), e.g. --sbatch-arg=--mem=8G.")
@click.option("--renderd-arg", "renderd_args", multiple=True, metavar="ARG",
              help="One more option for the pilots' renderd (repeatable), e.g. --renderd-arg=--allow-commands.")
@click.option("--renderd", "renderd_path", type=click.Path(dir_okay=False), help="renderd program on the nodes.")
@click.option("--status", is_flag=True, help="Show the pilots submitted from this spool: pending, running, gone.")
@click.option("--json", "as_json", is_flag=True, help="With --status: print JSON.")
@pass_ctx
def command(
    ctx: Context,
    pilots: int | None,
    partition: str | None,
    time_limit: str | None,
    job: str | None,
    idle_exit: float,
    slots: int,
    sbatch_args: tuple[str, ...],
    renderd_args: tuple[str, ...],
    renderd_path: str | None,
    status: bool,
    as_json: bool,
) -> None:
    """Borrow cluster nodes: submit N renderd pilots to Slurm (--slurm N), or show them (--status)."""
    spool = ctx.spool()
    if status:
        from render_frontend.burst_status import show

        show(spool.root, spool.hosts(), as_json)
        return
    if pilots is None:
        raise click.UsageError("say how many pilots: render burst --slurm N (or --status)")
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise _no_slurm("sbatch")
    if job is not None and spool.read_manifest(job) is None:
        raise click.ClickException(f"no job {job!r} in {spool.root}")
    burst_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    folder = spool.root / BURST_DIR / burst_id
    renderd = os.path.abspath(renderd_path) if renderd_path else renderd_program()
    script = batch_script(spool=spool.root, folder=folder, pilots=pilots, renderd=renderd, idle_exit=idle_exit,
                          partition=partition, time_limit=time_limit, job=job, slots=slots,
                          renderd_args=renderd_args)
    record = {"format": FORMAT, "id": burst_id, "pilots": pilots, "submitted": round(time.time(), 3),
              "by": getpass.getuser(), "partition": partition, "time": time_limit, "job": job,
              "idle_exit": idle_exit, "slots": slots, "sbatch_args": list(sbatch_args),
              "renderd_args": list(renderd_args)}
    (spool.root / BURST_DIR).mkdir(exist_ok=True)
    if (spool.root / BURST_DIR).is_symlink():
        raise click.ClickException(f"{spool.root / BURST_DIR} is a symlink, not the spool's own folder")
    job_id = submit(sbatch, script, folder, sbatch_args, record)
    terminal.echo(f"submitted {pilots} pilot(s) as Slurm job {job_id} (script: {folder / 'pilot.sbatch'})")
