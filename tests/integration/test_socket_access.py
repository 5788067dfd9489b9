"""Who may talk to a daemon: its user, root and the admin group, checked with SO_PEERCRED."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.daemons import BIN, wait_for

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="running a client as another user needs root")

NOBODY = pwd.getpwnam("nobody")
ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
# A client with nothing of ours imported (the other user may not read the source tree).
PING = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b'{"v": 1, "type": "request", "id": 1, "request": "ping"}\\n')
data = b""
while not data.endswith(b"\\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode().strip())
"""


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every user can reach (pytest's tmp folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="renderd-sock-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def ping_as_nobody(sock: Path) -> dict[str, object]:
    out = subprocess.run(["/usr/bin/python3", "-c", PING, str(sock)], user=NOBODY.pw_uid, group=NOBODY.pw_gid,
                         extra_groups=[], capture_output=True, text=True, timeout=30, check=True)
    answer: dict[str, object] = json.loads(out.stdout)
    return answer


def test_another_user_is_refused_even_when_the_socket_file_lets_them_in(open_dir: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    sock = open_dir / "a.sock"
    d = start_daemon("a", "--socket", str(sock))
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    sock.chmod(0o666)  # a careless admin: the credentials check still holds
    assert ping_as_nobody(sock) == {"v": 1, "type": "response", "id": 1, "ok": False, "error": "permission denied"}
    wait_for(lambda: f"uid {NOBODY.pw_uid} is not this daemon's user" in d.output(), 10, what="the refusal logged")


def test_members_of_the_admin_group_may_talk_to_the_daemon(open_dir: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    group = grp.getgrgid(NOBODY.pw_gid).gr_name
    sock = open_dir / "a.sock"
    start_daemon("a", "--socket", str(sock), "--admin-group", group)
    st = sock.stat()
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == NOBODY.pw_gid
    answer = ping_as_nobody(sock)
    assert answer["ok"] is True and answer["host"] == "a"


def test_an_unknown_admin_group_is_one_clear_error(spool: Path) -> None:
    out = subprocess.run([str(BIN / "renderd"), "--spool", str(spool), "--admin-group", "no-such-group-x"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "no group 'no-such-group-x'" in out.stderr and "Traceback" not in out.stderr


def render_as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    """The real front-end, run by another user through the system's Python (the venv's interpreter
    may sit in root's private home); our code and its libraries come from this checkout."""
    site = sysconfig.get_paths()["purelib"]
    code = "import sys; from render_frontend.cli import main; sys.argv[0] = 'render'; main()"
    return subprocess.run([SYSTEM_PYTHON, "-c", code, *args], user=NOBODY.pw_uid, group=NOBODY.pw_gid,
                          extra_groups=[], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": f"{ROOT}:{site}", "PATH": "/usr/bin:/bin"})


def same_python_as_ours(python: str) -> bool:
    """The venv's compiled libraries load only in the same Python version."""
    check = f"import sys; sys.exit(sys.version_info[:2] != {tuple(sys.version_info[:2])})"
    try:
        return subprocess.run([python, "-c", check], check=False, timeout=30).returncode == 0
    except OSError:
        return False


def test_another_user_may_not_change_a_job(open_dir: Path) -> None:
    if not same_python_as_ours(SYSTEM_PYTHON):
        pytest.skip(f"{SYSTEM_PYTHON} is missing or not Python {sys.version_info[0]}.{sys.version_info[1]}")
    spool = open_dir / "spool"
    spool.mkdir()
    job = json.loads(subprocess.run([str(BIN / "render"), "--spool", str(spool), "add", "--json", "--frames", "1-2",
                                     "--", "true"], capture_output=True, text=True, check=True).stdout)["job"]
    assert render_as_nobody("--spool", str(spool), "status", job).returncode == 0, "nobody may look"
    for args in (["cancel", job], ["pause", job], ["priority", job, "99"], ["retry", job], ["remove", job]):
        out = render_as_nobody("--spool", str(spool), *args)
        assert out.returncode == 1, (args, out.stderr)
        assert f"job {job} belongs to root (uid 0): only its owner, root may change it" in out.stderr
    assert not (spool / "jobs" / job / "control.json").exists()
