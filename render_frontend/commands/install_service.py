"""`render install-service [--user] [--dry-run]`: install and enable renderd's systemd unit here.

The unit files are the ones shipped with renderd (render_frontend/share.py: the package's copy,
or the source tree's systemd/ folder), with two lines filled in for this machine: ExecStart=
(this installation's `renderd`, or its Python for the spawner) and RequiresMountsFor= (the
spool).  The docs the man pages point to go to share/doc/renderd beside the man pages.

Everything that can fail is checked before the first step is printed (unit files found, the
renderd program, root for the system unit), so a dry run never shows steps the real command
then cannot carry out.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from render_frontend import manpage, share, terminal
from render_frontend.context import Context, pass_ctx

SERVICE_USER = "renderd"
SYSTEM_UNITS = ("renderd.service", "renderd-chunks.slice", "renderd-spawner.socket", "renderd-spawner@.service")
GPU_GROUPS = ("video", "render")


@dataclass
class Plan:
    """What to do, in order; printed always, done unless --dry-run."""

    dry_run: bool

    def write(self, path: Path, text: str, keep_existing: bool = False, show: bool = True) -> None:
        if keep_existing and path.exists():
            terminal.echo(f"keep   {path} (exists)")
            return
        terminal.echo(f"{'would write' if self.dry_run else 'write'}  {path}")
        if self.dry_run and show:
            terminal.echo("".join(f"    | {line}\n" for line in text.splitlines()), nl=False)
        if self.dry_run:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        tmp.rename(path)

    def run(self, *argv: str) -> None:
        terminal.echo(f"{'would run' if self.dry_run else 'run'}    {' '.join(argv)}")
        if self.dry_run:
            return
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise click.ClickException(f"{argv[0]}: {err}") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise click.ClickException(f"{' '.join(argv)} failed: {detail[-1] if detail else proc.returncode}")


def unit_text(name: str, renderd: Path, spool: Path | None) -> str:
    """A unit file from systemd/, with this machine's renderd and spool filled in."""
    try:
        source = share.path(f"systemd/{name}")
        text = source.read_text(encoding="utf-8")
    except OSError as err:
        raise click.ClickException(f"unit file {name}: {err}") from None
    programs = {"/usr/local/bin/renderd": renderd, "/usr/local/bin/python3": Path(sys.executable)}
    lines = []
    for line in text.splitlines():
        key = line.partition("=")[0]
        if key in ("ExecStart", "ExecStartPre"):
            program, _, args = line.removeprefix(f"{key}=").partition(" ")
            line = f"{key}={unit_word(programs.get(program, Path(program)))}" + (f" {args}" if args else "")
        elif line.startswith("RequiresMountsFor="):
            line = f"RequiresMountsFor={unit_word(spool)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def unit_word(path: Path | None) -> str:
    """A path as one word of a unit file: % escaped (specifiers), quoted when it holds blanks."""
    text = str(path).replace("%", "%%")
    if any(c.isspace() or c in "\"'\\" for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def renderd_program() -> Path:
    """The `renderd` beside the Python that runs this `render` (root's PATH may not hold the venv)."""
    program = Path(sys.executable).parent / "renderd"
    if not os.access(program, os.X_OK):
        raise click.ClickException(f"{program}: no renderd program beside this render")
    return program


def readable_by_all(path: Path) -> bool:
    """Can a user that is neither owner nor group (the service user) reach and run `path`?"""
    for part in [path, *path.parents]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


def config_text(spool: Path) -> str:
    return (
        "# renderd's settings: keys are renderd's long option names (renderd --help); see docs/config.md.\n"
        "# `renderd --print-config` shows the effective values and where each comes from.\n"
        "[renderd]\n"
        f"spool = {json.dumps(str(spool))}\n"  # a JSON string is a valid TOML string, quotes and all
    )


@click.command("install-service")
@click.option("--user", "user_unit", is_flag=True, help="Install for this user's session (systemctl --user).")
@click.option("--dry-run", is_flag=True, help="Print what would be done and the unit files; change nothing.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Install into this root folder instead of / (an image being built); no user is created, nothing starts.",
)
@click.option("--uid", type=click.IntRange(1), help="uid (and gid) for a new `renderd` user: the same on every host.")
@click.option("--no-start", is_flag=True, help="Enable the service but do not start it now.")
@pass_ctx
def command(ctx: Context, user_unit: bool, dry_run: bool, root: Path | None, uid: int | None, no_start: bool) -> None:
    """Install renderd's systemd unit on this machine and enable it, printing each step."""
    if user_unit and root is not None:
        raise click.UsageError("--root installs the system unit; it does not go with --user")
    spool = ctx.spool_path()
    if spool is None:
        raise click.UsageError("which spool? pass `render --spool DIR install-service`, or set RENDERD_SPOOL")
    spool = spool.expanduser().absolute()
    renderd = renderd_program()
    plan = Plan(dry_run)
    if user_unit:
        _install_user(plan, renderd, spool, no_start)
    else:
        _install_system(plan, renderd, spool, root, uid, no_start)
    if dry_run:
        terminal.echo("(dry run: nothing was changed)")
    elif root is None:
        scope = "--user " if user_unit else ""
        terminal.echo(f"check: systemctl {scope}status renderd; logs: journalctl {scope}-u renderd -f")


def _install_user(plan: Plan, renderd: Path, spool: Path, no_start: bool) -> None:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    units = base / "systemd" / "user"
    texts = {"renderd.service": unit_text("user/renderd.service", renderd, spool),
             "renderd-chunks.slice": unit_text("renderd-chunks.slice", renderd, spool)}
    docs = _docs()
    _need_programs(["systemctl"])
    for unit, text in texts.items():
        plan.write(units / unit, text)
    plan.write(base / "renderd" / "config.toml", config_text(spool), keep_existing=True)
    _write_man_pages(plan, Path.home() / ".local" / "share", docs)
    plan.run("systemctl", "--user", "daemon-reload")
    plan.run("systemctl", "--user", "enable", *([] if no_start else ["--now"]), "renderd.service")


def _install_system(plan: Plan, renderd: Path, spool: Path, root: Path | None, uid: int | None, no_start: bool) -> None:
    texts = {unit: unit_text(unit, renderd, spool) for unit in SYSTEM_UNITS}
    docs = _docs()
    needed = ["systemctl"]
    if root is None and not _user_exists(SERVICE_USER):
        needed += ["groupadd", "useradd"] if uid is not None else ["useradd"]
    if root is None and any(_group_exists(g) for g in GPU_GROUPS):
        needed.append("usermod")
    _need_programs(needed)
    if root is None and os.geteuid() != 0:
        if not plan.dry_run:
            raise click.ClickException("installing the system unit needs root (or try --user, or --dry-run)")
        terminal.echo("(not root: this is what `render install-service` would do when run as root)")
    if not readable_by_all(renderd):
        terminal.echo(
            f"warning: {renderd} is not reachable by other users; the `{SERVICE_USER}` user cannot run it "
            "(install renderd somewhere like /opt/renderd)",
            err=True,
        )
    prefix = root.absolute() if root is not None else Path("/")
    etc = prefix / "etc"
    if root is None:
        _ensure_user(plan, uid)
    else:
        terminal.echo(f"skip   creating the `{SERVICE_USER}` user (--root)")
    for unit, text in texts.items():
        plan.write(etc / "systemd" / "system" / unit, text)
    plan.write(etc / "renderd" / "renderd.toml", config_text(spool), keep_existing=True)
    _write_man_pages(plan, prefix / "usr" / "local" / "share", docs)
    if root is not None:
        plan.run("systemctl", f"--root={prefix}", "enable", "renderd.service")
        return
    plan.run("systemctl", "daemon-reload")
    plan.run("systemctl", "enable", *([] if no_start else ["--now"]), "renderd.service")


def _docs() -> dict[str, str]:
    """The docs the man pages point to (share/doc/renderd/*.md), read before any step is taken."""
    try:
        return {p.name: p.read_text(encoding="utf-8") for p in share.docs()}
    except OSError as err:
        raise click.ClickException(f"the documentation: {err}") from None


def _write_man_pages(plan: Plan, share_dir: Path, docs: dict[str, str]) -> None:
    """So that the unit's Documentation=man:renderd(1), `man render` and the pages' SEE ALSO work."""
    for filename, text in manpage.pages().items():
        plan.write(share_dir / "man" / "man1" / filename, text, show=False)
    for filename, text in docs.items():
        plan.write(share_dir / "doc" / "renderd" / filename, text, show=False)


def _ensure_user(plan: Plan, uid: int | None) -> None:
    try:
        existing = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        existing = None
    if existing is not None:
        if uid is not None and existing.pw_uid != uid:
            raise click.ClickException(f"user {SERVICE_USER} exists with uid {existing.pw_uid}, not {uid}")
        terminal.echo(f"keep   user {SERVICE_USER} (uid {existing.pw_uid}, gid {existing.pw_gid})")
    else:
        ids = ["--uid", str(uid), "--gid", str(uid)] if uid is not None else []
        if uid is not None:
            plan.run("groupadd", "--system", "--gid", str(uid), SERVICE_USER)
        plan.run(
            "useradd", "--system", *ids, *([] if uid is not None else ["--user-group"]),
            "--home-dir", "/var/lib/renderd", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER,
        )  # fmt: skip
    groups = [g for g in GPU_GROUPS if _group_exists(g)]
    if groups:
        plan.run("usermod", "--append", "--groups", ",".join(groups), SERVICE_USER)


def _need_programs(names: list[str]) -> None:
    """Every program a step will run, found before the first step (dry run or not)."""
    missing = [n for n in names if shutil.which(n) is None and shutil.which(n, path="/usr/sbin:/sbin") is None]
    if missing:
        raise click.ClickException(f"{', '.join(missing)}: not found on this machine; install-service needs them")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True
