"""Issue 10, the daemon's findings (9-14): each plant exactly as an artist's account could make it,
on a studio spool (group artists, 2775), against real renderd processes.

Each test shows three things: the daemon lives on, it runs nothing it should not, and it still
serves the other jobs.  The daemon runs as a user of its own (rd-daemon, not an artist, not
root); the victim and the attacker are two artists, rd-victim and rd-attacker
(tests/helpers/attacker.py).  Chunk programs run the system's Python (the venv's interpreter
sits in root's private home).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.attacker import (
    DAEMON_USER,
    SYSTEM_PYTHON,
    Attacker,
    DaemonAs,
    User,
    ensure_user,
    env_for_others,
    studio_spool,
)
from helpers.daemons import BIN, Daemon, process_alive, processes_mentioning, wait_for

from renderd.spool import LAYOUT, Spool

HELPERS = Path(__file__).parent.parent / "helpers"
FAKEPROG = str(HELPERS / "fakeprog.py")
FAKEBLENDER = str(HELPERS / "fakeblender.py")
BLEND = Path(__file__).parent.parent / "fixtures" / "blend" / "render_b34.blend"
FAST = ("--poll", "0.5", "--lease", "8")
VICTIM = "rd-victim"  # an artist whose work the attacker (helpers.attacker.ATTACKER) goes after
REMOTE = "rd-remote"  # an artist at another workstation: no process of theirs runs here


@dataclass
class Cast:
    spool: Path
    artist: User
    mallory: Attacker


@pytest.fixture
def cast() -> Iterator[Cast]:
    """A studio spool laid out as an admin sets it up: every layout folder group `artists`, 2775."""
    ensure_user(VICTIM)
    ensure_user(DAEMON_USER)
    with studio_spool() as made:
        Spool.open(made.spool, create=True)
        gid = made.spool.stat().st_gid
        for sub in LAYOUT:
            os.chown(made.spool / sub, 0, gid)
            os.chmod(made.spool / sub, 0o2775)
        yield Cast(made.spool, User(VICTIM), made.attacker)


@pytest.fixture
def scratch(cast: Cast) -> Path:
    """A folder every user may write (markers of the chunk programs)."""
    path = cast.spool.parent / "scratch"
    path.mkdir()
    os.chmod(path, 0o1777)
    return path


_WRITE = """
import os, sys
path, data, replace = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3] == "1"
target = path + ".planting" if replace else path
with open(target, "wb") as fh:
    fh.write(data)
if replace:
    os.rename(target, path)
"""


def write_as(user: User, path: Path, data: bytes, replace: bool = False) -> None:
    """Write `path` as `user`; `replace` writes a new file and renames it over the old one (what
    someone who may write the folder, but not the file, can do)."""
    user.python(_WRITE, str(path), data.hex(), "1" if replace else "0")


def render_as(user: User, spool: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = user.render(spool, *args)
    if check and proc.returncode != 0:
        raise AssertionError(f"{user.name}: render {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


class FarmDaemon(DaemonAs):
    """A real renderd run as the farm's own user (rd-daemon: not root, not an artist), with a state
    folder of its own (XDG_STATE_HOME, as systemd's StateDirectory= gives a service user)."""

    def start(self) -> FarmDaemon:
        user = User(DAEMON_USER)
        state = self.spool.parent / f"state-{self.name}"  # beside the spool: reachable, removed with it
        state.mkdir(exist_ok=True)
        os.chown(state, user.uid, user.gid)
        cmd = ["--spool", str(self.spool), "--name", self.name, "--when", "always", "--min-free-mem", "0", *self.args]
        env = {**env_for_others(), "XDG_STATE_HOME": str(state)}
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(
                [SYSTEM_PYTHON, "-c", "from renderd.cli import main; main()", *cmd], stdout=fh,
                stderr=subprocess.STDOUT, env=env, cwd="/", **user.popen_args())  # type: ignore[call-overload]
        wait_for(self.registered, 60, what=f"daemon {self.name} to register")
        return self


def start(daemons: list[Daemon], spool: Path, logdir: Path, name: str, *args: str) -> FarmDaemon:
    d = FarmDaemon(spool, name, logdir, [*FAST, *args])
    daemons.append(d)
    return d.start()


def command_job(user: User, spool: Path, frames: str, argv: list[str], *opts: str) -> dict[str, Any]:
    out = render_as(user, spool, "add", "--frames", frames, "--json", *opts, "--", *argv)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def blender_job(user: User, spool: Path, *opts: str) -> dict[str, Any]:
    """The victim's shot, copied into the spool by the victim and added with `render add`."""
    shots = spool / "shots"
    user.python("import os, sys; os.makedirs(sys.argv[1], exist_ok=True)", str(shots))
    user.python("import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])", str(BLEND), str(shots / BLEND.name))
    out = render_as(user, spool, "add", "--json", str(shots / BLEND.name), *opts)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def done(spool: Path, job: str) -> list[str]:
    folder = spool / "jobs" / job / "done"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def wait_done(spool: Path, job: dict[str, Any], d: Daemon, timeout: float = 90) -> None:
    want = len(job["chunks"])
    wait_for(lambda: len(done(spool, job["job"])) == want, timeout,
             what=f"{want} chunk(s) of {job['job']} done; daemon log:\n{d.output()[-3000:]}")


def failed_reason(spool: Path, chunk: str, d: Daemon, timeout: float = 60) -> str:
    path = spool / "failed" / f"{chunk}.info.reason"
    wait_for(path.exists, timeout, what=f"{chunk} in failed/; daemon log:\n{d.output()[-3000:]}")
    return path.read_text()


def queue_folder(spool: Path) -> Path:
    (path,) = list((spool / "queue").iterdir())
    return path


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- finding 9


def test_forged_host_record_with_a_future_heartbeat_does_not_take_a_daemons_name(
    cast: Cast, tmp_path: Path, daemons: list[Daemon]
) -> None:
    studio, mallory, artist = cast.spool, cast.mallory, cast.artist
    forged = {"format": 1, "name": "farm1", "hostname": "mallorys-workstation", "pid": 1, "state": "idle",
              "heartbeat": time.time() + 10 * 365 * 86400, "stale_after": 86400, "slots": 1, "chunks": []}
    write_as(mallory, studio / "hosts" / "farm1.json", json.dumps(forged).encode())
    d = start(daemons, studio, tmp_path, "farm1", "--allow-commands")  # registers under its own name
    assert f"ignoring hosts/farm1.json: written by uid {mallory.uid}" in d.output()
    record = studio / "hosts" / "farm1.json"
    assert record.stat().st_uid == User(DAEMON_USER).uid and json.loads(record.read_text())["pid"] == d.pid
    job = command_job(artist, studio, "1-2", ["/bin/true"], "--chunk", "1")
    wait_done(studio, job, d)
    assert d.alive()


def test_a_live_record_of_the_daemons_own_user_on_another_machine_still_holds_the_name(
    cast: Cast, tmp_path: Path
) -> None:
    """The proof cuts both ways: a real daemon of the same user elsewhere keeps its name."""
    studio = cast.spool
    record = {"format": 1, "name": "farm1", "hostname": "another-machine", "pid": 4242, "state": "idle",
              "heartbeat": time.time(), "stale_after": 86400, "slots": 1, "chunks": []}
    (studio / "hosts" / "farm1.json").write_text(json.dumps(record))  # written by root, as a daemon would
    proc = subprocess.run([str(BIN / "renderd"), "--spool", str(studio), "--name", "farm1", "--when", "always"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "the name 'farm1' is in use by pid 4242 on another-machine" in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- finding 10


def test_a_command_chunk_planted_in_a_blender_job_is_quarantined_and_the_job_still_renders(
    cast: Cast, tmp_path: Path, scratch: Path, daemons: list[Daemon]
) -> None:
    studio, mallory, artist = cast.spool, cast.mallory, cast.artist
    job = blender_job(artist, studio, "--chunk", "1")
    assert len(job["chunks"]) == 3
    first = queue_folder(studio) / f"{job['chunks'][0]['chunk']}.info"
    plant = json.loads(first.read_text())
    pwned = scratch / "pwned"
    plant.update(chunk=f"{job['job']}-0000", index=0, kind="command", argv=["/usr/bin/touch", str(pwned)])
    plant.pop("blender", None)
    write_as(mallory, first.parent / f"{job['job']}-0000.info", json.dumps(plant).encode())  # sorts first
    d = start(daemons, studio, tmp_path, "farm1", "--blender", FAKEBLENDER, "--no-warm")  # no --allow-commands
    wait_done(studio, job, d)
    (reason_file,) = (studio / "bad").glob(f"{job['job']}-0000.info.*.reason")
    reason = reason_file.read_text()
    assert "'command' chunk in a 'blender' job" in reason
    assert not pwned.exists()
    runs = (studio / "shots" / f"{BLEND.name}.runs").read_text().splitlines()
    assert len(runs) == 3
    assert d.alive()


def test_a_manifest_replaced_by_another_artist_is_not_the_jobs_word(
    cast: Cast, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """The manifest decides a job's kind for every daemon: one replaced by someone else (it says
    `command` now) must not get the owner's Blender chunks quarantined or the job left."""
    studio, mallory, artist = cast.spool, cast.mallory, cast.artist
    job = blender_job(artist, studio, "--chunk", "1")
    manifest_path = studio / "jobs" / job["job"] / "manifest.json"
    forged = json.loads(manifest_path.read_text())
    forged["kind"] = "command"
    forged.pop("blend", None)
    write_as(mallory, manifest_path, json.dumps(forged).encode(), replace=True)  # the job folder is 2775
    assert manifest_path.stat().st_uid == mallory.uid
    d = start(daemons, studio, tmp_path, "farm1", "--blender", FAKEBLENDER, "--no-warm")  # no --allow-commands
    wait_done(studio, job, d)
    assert not list((studio / "bad").iterdir())
    assert f"ignoring the manifest of job {job['job']}: written by uid {mallory.uid}" in d.output()
    assert d.alive()


# --------------------------------------------------------------------------- finding 12


def test_a_forged_manifest_uid_does_not_let_one_artist_cancel_anothers_job(
    cast: Cast, tmp_path: Path, scratch: Path, daemons: list[Daemon]
) -> None:
    studio, mallory, artist = cast.spool, cast.mallory, cast.artist
    job = command_job(artist, studio, "1-2", [SYSTEM_PYTHON, FAKEPROG, str(scratch), "{chunk}"], "--chunk", "1")
    folder = studio / "jobs" / job["job"]
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["uid"], manifest["owner"] = mallory.uid, mallory.name
    write_as(mallory, folder / "manifest.json", json.dumps(manifest).encode(), replace=True)  # the folder is 2775
    refused = render_as(mallory, studio, "cancel", job["job"], check=False)  # the front-end asks the files too
    assert refused.returncode != 0 and f"(uid {artist.uid})" in refused.stderr, refused.stderr
    control = folder / "control.json"  # so mallory writes the control file by hand
    ctl = {"format": 1, "paused": False, "now": False, "cancelled": True, "by": "uid", "time": time.time()}
    write_as(mallory, control, json.dumps(ctl).encode(), replace=True)
    assert json.loads(control.read_text())["cancelled"] is True
    d = start(daemons, studio, tmp_path, "farm1", "--allow-commands")
    wait_done(studio, job, d)
    assert not (folder / "cancelled").exists() or not list((folder / "cancelled").iterdir())
    assert f"ignoring the control file of job {job['job']}: uid {mallory.uid} is not its owner" in d.output()
    # The owner's own cancel is obeyed (ownership is the files', so a non-root owner works).
    own = command_job(artist, studio, "1-1", [SYSTEM_PYTHON, FAKEPROG, str(scratch), "own", "--sleep", "120"])
    wait_for(lambda: (scratch / "own.starts").exists(), 60, what="the owner's chunk to start")
    render_as(artist, studio, "cancel", own["job"])
    cancelled = studio / "jobs" / own["job"] / "cancelled"
    wait_for(lambda: cancelled.is_dir() and list(cancelled.iterdir()), 60, what="the owner's cancel to be obeyed")
    assert d.alive()


# --------------------------------------------------------------------------- finding 13


@pytest.fixture
def full_logs() -> Iterator[list[Path]]:
    """Tiny tmpfs mounts the test puts over a job's logs/ folder (a full file system); unmounted after."""
    mounts: list[Path] = []
    yield mounts
    for path in mounts:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def test_a_full_file_system_under_the_log_does_not_leave_a_run_busy(
    cast: Cast, tmp_path: Path, daemons: list[Daemon], full_logs: list[Path]
) -> None:
    studio, artist = cast.spool, cast.artist
    chatty = [SYSTEM_PYTHON, "-c", "import sys\nfor i in range(20000): print('x' * 200)"]  # 4 MB of output
    job = command_job(artist, studio, "1-1", chatty)
    logs = studio / "jobs" / job["job"] / "logs"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,mode=0777", "tmpfs", str(logs)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    full_logs.append(logs)
    d = start(daemons, studio, tmp_path, "farm1", "--allow-commands")
    wait_done(studio, job, d)  # the launcher stopped logging and reported the exit: the run ended
    assert "stopped writing the log: No space left on device" in d.output()
    other = command_job(artist, studio, "1-2", ["/bin/true"], "--chunk", "1")
    wait_done(studio, other, d)
    assert d.alive()


def test_a_launcher_that_dies_ends_its_run_as_a_failed_attempt(
    cast: Cast, tmp_path: Path, scratch: Path, daemons: list[Daemon]
) -> None:
    studio, artist = cast.spool, cast.artist
    job = command_job(artist, studio, "1-1", [SYSTEM_PYTHON, FAKEPROG, str(scratch), "held", "--sleep", "300"],
                      "--max-attempts", "1")
    d = start(daemons, studio, tmp_path, "farm1", "--allow-commands")

    def program_pid() -> int | None:
        try:
            chunks = json.loads((studio / "hosts" / "farm1.json").read_text()).get("chunks") or []
        except (OSError, ValueError):
            return None
        pid = chunks[0].get("pid") if chunks else None
        return pid if isinstance(pid, int) else None

    program = wait_for(program_pid, 60, what="the chunk to start")
    with open(f"/proc/{program}/stat") as fh:
        launcher = int(fh.read().rsplit(")", 1)[1].split()[1])
    os.kill(launcher, signal.SIGKILL)  # as the OOM killer or a crash would
    reason = failed_reason(studio, job["chunks"][0]["chunk"], d)
    assert "the launcher died" in reason
    wait_for(lambda: not process_alive(program), 30, what="the chunk program to die with its launcher")
    other = command_job(artist, studio, "1-1", ["/bin/true"])
    wait_done(studio, other, d)  # the slot is free again
    assert d.alive()


# --------------------------------------------------------------------------- finding 14 (the FIFO)


def test_a_blend_that_is_a_fifo_fails_its_chunk_instead_of_holding_the_slot(
    cast: Cast, tmp_path: Path, daemons: list[Daemon]
) -> None:
    studio, mallory, artist = cast.spool, cast.mallory, cast.artist
    job = blender_job(artist, studio, "--max-attempts", "1")
    blend = studio / "shots" / BLEND.name
    mallory.replace_with_fifo(blend)
    d = start(daemons, studio, tmp_path, "farm1", "--allow-commands", "--blender", FAKEBLENDER, "--no-warm")
    reason = failed_reason(studio, job["chunks"][0]["chunk"], d)
    assert "is a FIFO, not a regular file" in reason
    assert [pid for pid in processes_mentioning(FAKEBLENDER) if pid != d.pid] == []  # no Blender waits on it
    assert not (studio / "shots" / f"{BLEND.name}.runs").exists()
    other = command_job(artist, studio, "1-1", ["/bin/true"])
    wait_done(studio, other, d)
    assert d.alive()


# --------------------------------------------------------------------------- finding 11 (the busy loop)


def test_a_chunk_that_fails_before_it_starts_backs_off_instead_of_spinning(
    cast: Cast, tmp_path: Path, daemons: list[Daemon]
) -> None:
    studio, artist = cast.spool, cast.artist
    gone = studio / "shot-that-moved"  # the artist's folder, removed after `render add`
    artist.python("import os, sys; os.mkdir(sys.argv[1])", str(gone))
    job = command_job(artist, studio, "1-1", ["/bin/true"], "--cwd", str(gone), "--max-attempts", "100")
    shutil.rmtree(gone)
    d = start(daemons, studio, tmp_path, "farm1", "--allow-commands")
    began, cpu_before = time.monotonic(), cpu_seconds(d.pid)
    other = command_job(artist, studio, "1-2", ["/bin/true"], "--chunk", "1")
    wait_done(studio, other, d)

    def attempts() -> int:
        for path in [*(studio / "queue").rglob("*.info"), *(studio / "claimed").glob("*.info@*")]:
            if path.name.startswith(job["chunks"][0]["chunk"]):
                try:
                    return int(json.loads(path.read_text())["attempts"])
                except (OSError, ValueError, KeyError):
                    continue
        return -1

    wait_for(lambda: attempts() >= 3, 60, what="the chunk to be retried")
    elapsed = time.monotonic() - began
    seen = attempts()
    # Waits of 0.5, 1, 2, 4 ... s (one poll, doubling): n attempts need 0.5 * (2**(n-1) - 1) s.
    assert 0 < seen <= 3 + int(elapsed / 0.5 + 1).bit_length(), (seen, elapsed)
    assert not (studio / "failed" / f"{job['chunks'][0]['chunk']}.info").exists()
    assert cpu_seconds(d.pid) - cpu_before < 0.5 * elapsed + 2  # a busy loop is one core all along
    assert "before it started: working directory" in d.output()
    assert d.alive()


# --------------------------------------------------------------------------- finding 9 (forged live hosts)


def test_a_forged_live_host_does_not_keep_a_chunk_that_failed_here_from_running_again(
    cast: Cast, tmp_path: Path, scratch: Path, daemons: list[Daemon]
) -> None:
    """A chunk that failed here waits for another live host that may run it, but not for ever:
    a forged record (heartbeat in the future, --allow-commands) would otherwise hold it back."""
    studio, mallory, artist = cast.spool, cast.mallory, cast.artist
    ghost = {"format": 1, "name": "ghost", "hostname": "nowhere", "pid": 1, "state": "idle", "slots": 8,
             "heartbeat": time.time() + 10 * 365 * 86400, "stale_after": 86400, "chunks": [],
             "allow_commands": True, "allow_scripts": True, "blender_version": "9.9.9"}
    write_as(mallory, studio / "hosts" / "ghost.json", json.dumps(ghost).encode())
    once = scratch / "failed-once"
    flaky = [SYSTEM_PYTHON, "-c", "import os, sys\nif not os.path.exists(sys.argv[1]):\n"
             "    open(sys.argv[1], 'w').close(); sys.exit(1)", str(once)]
    job = command_job(artist, studio, "1-1", flaky)
    d = start(daemons, studio, tmp_path, "farm1", "--allow-commands", "--lease", "4")
    wait_for(once.exists, 60, what="the first, failing run")
    wait_done(studio, job, d, timeout=120)  # after two leases (8 s) this host takes it again
    assert d.alive()


# --------------------------------------------------------------------------- host orders (render host pause)


def test_an_artist_elsewhere_cannot_pause_a_host_but_its_own_user_at_the_desk_can(
    cast: Cast, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """hosts/ is every artist's: an order counts only from root, the daemon's user, the admin group
    or a user of that machine (docs/security.md, "Host orders")."""
    studio, artist = cast.spool, cast.artist
    ensure_user(REMOTE)
    remote = User(REMOTE)  # an artist with nothing running on this machine
    d = start(daemons, studio, tmp_path, "farm1", "--allow-commands")
    refused = remote.render(studio, "host", "pause", "farm1")
    assert refused.returncode == 0, refused.stderr  # the front-end writes the order: the daemon judges it
    wait_for(lambda: f"ignoring hosts/farm1.control (pause): written by uid {remote.uid}" in d.output(), 60,
             what=f"the daemon to ignore the remote order; log:\n{d.output()[-2000:]}")
    job = command_job(artist, studio, "1-2", ["/bin/true"], "--chunk", "1")
    wait_done(studio, job, d)

    def state() -> str:
        try:
            return str(json.loads((studio / "hosts" / "farm1.json").read_text()).get("state"))
        except (OSError, ValueError):
            return ""

    desk = subprocess.Popen([SYSTEM_PYTHON, "-c", "import time; time.sleep(300)"], cwd="/",
                            **artist.popen_args())  # type: ignore[call-overload]  # the owner is at the desk
    try:
        assert artist.render(studio, "host", "pause", "farm1").returncode == 0
        wait_for(lambda: state() == "paused", 60, what="the desk user's pause to be obeyed")
    finally:
        desk.kill()
        desk.wait(10)
    assert d.alive()
