"""A second Unix user for the attack tests: an artist who may write the spool, and nothing more.

A studio spool is group-writable (`artists`, mode 2775: setgid, so everything made in it stays
in the group); any member can rename, replace or plant names in it.  `Attacker` makes its plants
through a real process running as that user (uid and groups dropped by `subprocess`), so a test
proves what an artist's account can do, not what root can.  `useradd` works as root here; the
users and the group are made once and kept (idempotent).

Also `studio_spool()`: a spool folder an artist can reach (pytest's tmp folders are 0700 root),
with a victim's work beside it that nothing may touch.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.daemons import BIN, Daemon, wait_for

GROUP = "artists"
ATTACKER = "rd-attacker"
DAEMON_USER = "rd-daemon"  # a daemon that is not root (root reads mode-000 files)
# The test interpreter lives under /root (0700); other users run the system's Python 3.11 with
# this checkout and the venv's packages on their path.
SYSTEM_PYTHON = "/usr/bin/python3.11"
REPO = Path(__file__).resolve().parents[2]
SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def can_run_as_others() -> bool:
    return can_make_users() and os.access(SYSTEM_PYTHON, os.X_OK) and sys.version_info[:2] == (3, 11)


def env_for_others() -> dict[str, str]:
    """An environment in which `SYSTEM_PYTHON -m renderd...` imports this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONPATH"] = f"{REPO}:{SITE}"
    for key in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "RENDERD_CONFIG"):
        env.pop(key, None)
    env["HOME"] = "/nonexistent"  # not root's: its config is neither readable nor theirs
    return env


def can_make_users() -> bool:
    return os.geteuid() == 0 and shutil.which("useradd") is not None and shutil.which("groupadd") is not None


def ensure_user(name: str, group: str = GROUP) -> int:
    """The uid of `name`, a member of `group`, made if missing."""
    try:
        grp.getgrnam(group)
    except KeyError:
        subprocess.run(["groupadd", "-f", group], check=True, capture_output=True)
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "-G", group, name],
                       check=True, capture_output=True)
        uid = pwd.getpwnam(name).pw_uid
    if name not in grp.getgrnam(group).gr_mem:
        subprocess.run(["usermod", "-a", "-G", group, name], check=True, capture_output=True)
    return uid


@dataclass(frozen=True)
class User:
    name: str

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid

    @property
    def gid(self) -> int:
        return grp.getgrnam(GROUP).gr_gid

    def popen_args(self) -> dict[str, object]:
        """What `subprocess.Popen` needs to run as this user, in the artists group."""
        return {"user": self.uid, "group": self.gid, "extra_groups": [self.gid], "umask": 0o002}

    def python(self, code: str, *args: str) -> str:
        """Run `code` (with `sys.argv[1:] == args`) as this user; its stdout.  Fails the test on error."""
        proc = subprocess.run([SYSTEM_PYTHON, "-c", code, *args], capture_output=True, text=True, timeout=60,
                              cwd="/", **self.popen_args())  # type: ignore[call-overload]
        if proc.returncode != 0:
            raise AssertionError(f"{self.name} could not run its plant: {proc.stderr.strip()}")
        return str(proc.stdout)


    def render(self, spool: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """The real `render` front-end, run by this user."""
        return subprocess.run([SYSTEM_PYTHON, "-c", "from render_frontend.cli import main; main()", "--spool",
                               str(spool), *args], capture_output=True, text=True, timeout=120, cwd="/",
                              env=env_for_others(), **self.popen_args())  # type: ignore[call-overload]


class Attacker(User):
    """The artist's plants, each one real system call made as that user."""

    def symlink(self, target: Path | str, path: Path) -> None:
        self.python("import os, sys; os.symlink(sys.argv[1], sys.argv[2])", str(target), str(path))

    def replace_with_symlink(self, path: Path, target: Path | str) -> None:
        """Rename `path` away (as an artist can in a 2775 folder) and put a link in its place."""
        self.python("import os, sys; os.rename(sys.argv[1], sys.argv[1] + '.orig') if os.path.lexists(sys.argv[1])"
                    " else None; os.symlink(sys.argv[2], sys.argv[1])", str(path), str(target))

    def replace_with_fifo(self, path: Path) -> None:
        self.python("import os, sys; os.unlink(sys.argv[1]) if os.path.lexists(sys.argv[1]) else None;"
                    " os.mkfifo(sys.argv[1])", str(path))

    def mkdir(self, path: Path) -> None:
        self.python("import os, sys; os.makedirs(sys.argv[1], exist_ok=True)", str(path))

    def write(self, path: Path, data: bytes, mode: int = 0o664) -> None:
        self.python("import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600);"
                    " os.write(fd, bytes.fromhex(sys.argv[2])); os.fchmod(fd, int(sys.argv[3])); os.close(fd)",
                    str(path), data.hex(), str(mode))

    def write_many(self, folder: Path, files: Sequence[tuple[str, bytes]], mode: int,
                   staging: Path | None = None) -> None:
        """Make `folder` with these files (mode `mode`) beside its parent, then rename it into place
        at once (as `render add` does), so a daemon meets the folder whole."""
        code = ("import os, sys, json; folder = sys.argv[1]; tmp = sys.argv[3]; os.mkdir(tmp);"
                " files = json.loads(sys.stdin.read())\n"
                "for name, hexdata in files:\n"
                "    fd = os.open(os.path.join(tmp, name), os.O_WRONLY | os.O_CREAT, 0o600)\n"
                "    os.write(fd, bytes.fromhex(hexdata)); os.fchmod(fd, int(sys.argv[2])); os.close(fd)\n"
                "os.rename(tmp, folder)")
        import json

        # by default beside the parent, under a hidden name no listing of renderd reads
        aside = staging or folder.parent.parent / f".{folder.name}.planting"
        proc = subprocess.run([SYSTEM_PYTHON, "-c", code, str(folder), str(mode), str(aside)],
                              capture_output=True, text=True,
                              input=json.dumps([(n, d.hex()) for n, d in files]), timeout=120, cwd="/",
                              **self.popen_args())  # type: ignore[call-overload]
        if proc.returncode != 0:
            raise AssertionError(f"{self.name} could not plant {folder}: {proc.stderr.strip()}")


class DaemonAs(Daemon):
    """A real `renderd` run as `user` (None: as root), umask 002 as in a studio."""

    def __init__(self, spool: Path, name: str, logdir: Path, args: Sequence[str] = (),
                 user: User | None = None) -> None:
        super().__init__(spool, name, logdir, args)
        self.user = user

    def start(self) -> DaemonAs:
        cmd = ["--spool", str(self.spool), "--name", self.name, "--when", "always", "--min-free-mem", "0", *self.args]
        with open(self.log, "ab") as fh:
            if self.user is None:
                self.proc = subprocess.Popen([str(BIN / "renderd"), *cmd], stdout=fh, stderr=subprocess.STDOUT,
                                             umask=0o002)
            else:
                self.proc = subprocess.Popen(
                    [SYSTEM_PYTHON, "-c", "from renderd.cli import main; main()", *cmd], stdout=fh,
                    stderr=subprocess.STDOUT, env=env_for_others(), cwd="/",
                    **self.user.popen_args())  # type: ignore[call-overload]
        wait_for(self.registered, 60, what=f"daemon {self.name} to register")
        return self


@dataclass(frozen=True)
class Studio:
    base: Path
    spool: Path  # group artists, mode 2775, as a studio sets it up
    victim: Path  # someone's shot folder outside the spool: must stay exactly as it is
    attacker: Attacker


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every name under `folder` with its mode, mtime and content (or link target)."""
    out: dict[str, tuple[int, int, bytes]] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            st = path.lstat()
            data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes() if path.is_file() else b""
            out[str(path.relative_to(folder))] = (st.st_mode, st.st_mtime_ns, data)
    return out


@contextmanager
def studio_spool() -> Iterator[Studio]:
    """A fresh spool an artist can write (and a victim folder it must not reach through renderd)."""
    ensure_user(ATTACKER)
    base = Path(tempfile.mkdtemp(prefix="renderd-studio-"))
    try:
        os.chmod(base, 0o755)
        spool = base / "spool"
        spool.mkdir()
        os.chown(spool, 0, grp.getgrnam(GROUP).gr_gid)
        os.chmod(spool, 0o2775)
        victim = base / "victim-shot"
        victim.mkdir()
        for name in ("shot_0001.exr", "shot_0002.exr", "notes.txt"):
            (victim / name).write_bytes(b"precious work " + name.encode())
            os.utime(victim / name, (1_000_000_000, 1_000_000_000))  # old: any age limit would pass it
        os.chmod(victim, 0o777)  # writable by all: only renderd's own rules keep it safe
        yield Studio(base, spool, victim, Attacker(ATTACKER))
    finally:
        shutil.rmtree(base, ignore_errors=True)
