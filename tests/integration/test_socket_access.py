"""Who may talk to a daemon: its user, root and the admin group, checked with SO_PEERCRED."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.daemons import BIN, wait_for

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="running a client as another user needs root")

NOBODY = pwd.getpwnam("nobody")
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
