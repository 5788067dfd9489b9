"""Red-team plants against what was added last (hooks, stats, encode chunks): each as an artist's
account could make it, on a studio spool (group artists, 2775), against real daemons run as the
farm's own user (rd-daemon).  Each test failed on main before its fix (docs/security.md says which).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.attacker import DAEMON_USER, SYSTEM_PYTHON, Attacker, User, ensure_user, studio_spool
from helpers.daemons import Daemon, wait_for

from renderd.format.info import ChunkInfo
from renderd.format.manifest import Manifest
from renderd.spool import LAYOUT, Spool
from security.test_daemon import FarmDaemon, render_as, write_as

HELPERS = Path(__file__).parent.parent / "helpers"
FAKEPROG = str(HELPERS / "fakeprog.py")
FAKEBLENDER = str(HELPERS / "fakeblender.py")
BLEND = Path(__file__).parent.parent / "fixtures" / "blend" / "render_b34.blend"
FAST = ("--poll", "0.5", "--lease", "8", "--no-warm")  # warm Blender: not what these tests plant
VICTIM = "rd-victim"


@dataclass
class Cast:
    spool: Path
    artist: User
    mallory: Attacker
    scratch: Path  # a folder every user may write: what a hook that ran leaves behind


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
        scratch = made.base / "scratch"
        scratch.mkdir()
        os.chmod(scratch, 0o1777)
        yield Cast(made.spool, User(VICTIM), made.attacker, scratch)


def start(daemons: list[Daemon], spool: Path, logdir: Path, name: str, *args: str) -> FarmDaemon:
    d = FarmDaemon(spool, name, logdir, [*FAST, *args])
    daemons.append(d)
    return d.start()


def blender_job(user: User, spool: Path, *opts: str) -> dict[str, Any]:
    """`user`'s shot, copied into the spool and added with `render add`."""
    shots = spool / f"shots-{user.name}"
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


def touch_hook(path: Path) -> list[str]:
    return [SYSTEM_PYTHON, "-c", "import sys; open(sys.argv[1], 'a').write('ran\\n')", str(path)]


# --------------------------------------------------------------------------- hooks


@pytest.mark.parametrize("whose", ["victim's, replaced by mallory", "mallory's own, rewritten after render add"])
def test_a_manifest_given_hooks_after_render_add_runs_none_on_a_daemon_without_allow_hooks(
    cast: Cast, tmp_path: Path, daemons: list[Daemon], whose: str
) -> None:
    """The daemon decided at claim time from a manifest without hooks (or from none: one not the
    owner's is ignored), then re-read the manifest to plan the run's phases and ran its `pre`
    hook: code execution on a daemon without --allow-hooks or --allow-commands."""
    studio, mallory = cast.spool, cast.mallory
    owner = cast.artist if whose.startswith("victim") else mallory
    job = blender_job(owner, studio, "--chunk", "1", "--frames", "1-40")  # chunks left after the rewrite
    manifest_path = studio / "jobs" / job["job"] / "manifest.json"
    forged = json.loads(manifest_path.read_text())
    pwned = cast.scratch / "pwned"
    forged["hooks"] = {"pre": touch_hook(pwned), "post": touch_hook(pwned), "end": touch_hook(pwned)}
    if owner is mallory:
        d = start(daemons, studio, tmp_path, "farm1", "--blender", FAKEBLENDER)
        wait_for(lambda: done(studio, job["job"]), 60, what="a first chunk done (the manifest read and cached)")
        write_as(mallory, manifest_path, json.dumps(forged).encode(), replace=True)
    else:
        write_as(mallory, manifest_path, json.dumps(forged).encode(), replace=True)  # the job folder is 2775
        d = start(daemons, studio, tmp_path, "farm1", "--blender", FAKEBLENDER)
    wait_done(studio, job, d)
    assert not pwned.exists(), d.output()[-3000:]
    assert d.alive()


def _config(cast: Cast, hooks: dict[str, list[str]]) -> Path:
    """The host admin's config file with a [hooks] table, readable by the daemon's user."""
    path = cast.spool.parent / "renderd.toml"
    path.write_text("[hooks]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in hooks.items()))
    path.chmod(0o644)
    return path


def test_the_config_files_hooks_run_only_with_allow_hooks(cast: Cast, tmp_path: Path, daemons: list[Daemon]) -> None:
    """docs/hooks.md: a daemon runs hooks only with --allow-hooks or --allow-commands.  The
    config's pre and post hooks ran on a daemon without either (its end and error hooks did not)."""
    ran = cast.scratch / "ran"
    config = _config(cast, {"pre": touch_hook(ran), "post": touch_hook(ran)})
    job = blender_job(cast.artist, cast.spool, "--chunk", "1")
    d = start(daemons, cast.spool, tmp_path, "farm1", "--blender", FAKEBLENDER, "--config", str(config))
    wait_done(cast.spool, job, d)
    assert not ran.exists()
    assert "the config file's [hooks] are not run" in d.output()
    assert d.alive()


RECORD_ARGV = [SYSTEM_PYTHON, "-c", "import sys, json; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')"]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (tests/bootstrap installs it)")
def test_a_blender_block_planted_in_an_encode_chunk_gives_no_hook_its_values(
    cast: Cast, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Hook placeholders are read from the chunk's `blender` fields, which the info reader checks
    only for Blender chunks: an encode chunk carrying a `blender` block handed the admin's hook a
    `{scene}` of `--anything` (an option) and a `{file}`/`{output}` of the planter's choice."""
    studio, mallory = cast.spool, cast.mallory
    calls = cast.scratch / "calls"
    config = _config(cast, {"pre": [*RECORD_ARGV, str(calls), "{scene}", "{file}", "{output}", "{frames_dir}"]})
    frames = studio / "shots" / "frames"
    cast.artist.python("import os, sys; os.makedirs(sys.argv[1])", str(frames))  # the artist's shot folder
    for n in (1, 2):  # the frames the encode chunk stages (what ffmpeg makes of them comes after the pre hook)
        write_as(cast.artist, frames / f"shot_{n:04d}.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    job = "enc-0badf00d"
    info = ChunkInfo(job=job, chunk=f"{job}-0001", index=1, kind="encode", argv=[], start=1, end=2, step=1,
                     max_attempts=1, encode={"frames": "shots/frames/shot_####.png", "fps": 24.0, "container": "mp4",
                                             "video": "shot.mp4"})
    manifest = Manifest.from_dict({"format": 1, "job": job, "kind": "encode", "frames": 2,
                                   "chunks": [{"chunk": info.chunk, "start": 1, "end": 2, "step": 1}]})
    Spool.open(studio).submit(manifest, [info])
    [queued] = (studio / "queue").rglob("*.info")
    for folder in [queued.parent, *(p for p in (studio / "jobs").rglob("*") if p.is_dir())]:
        os.chmod(folder, 0o2775)  # as an artist's `render add` (umask 002) leaves them
    data = json.loads(queued.read_text())
    data["blender"] = {"file": "--pwn", "scene": "--exec=touch /tmp/x", "output": "-o/x"}
    write_as(mallory, queued, json.dumps(data).encode(), replace=True)  # the queue folder is 2775
    d = start(daemons, studio, tmp_path, "farm1", "--allow-hooks", "--config", str(config))
    try:
        wait_for(calls.exists, 30, what="the pre hook")
    except AssertionError:
        raise AssertionError(d.output()[-3000:]) from None
    words = json.loads(calls.read_text().splitlines()[0])
    assert not any(w.startswith("-") for w in words), words
    assert d.alive()


def test_a_planted_ended_folder_is_said_not_obeyed_silently(cast: Cast, tmp_path: Path, daemons: list[Daemon]) -> None:
    """`jobs/<job>/ended` made first by another artist keeps the end hook from running (accepted:
    it suppresses a notification, runs nothing; docs/security.md "Hooks"), but not in silence."""
    studio, mallory = cast.spool, cast.mallory
    ended = cast.scratch / "ended"
    job = blender_job(cast.artist, studio, "--chunk", "1", "--end", " ".join(touch_hook(ended)))
    mallory.mkdir(studio / "jobs" / job["job"] / "ended")
    d = start(daemons, studio, tmp_path, "farm1", "--blender", FAKEBLENDER, "--allow-hooks")
    wait_done(studio, job, d)
    line = f"jobs/{job['job']}/ended was made by uid {mallory.uid}, not by a daemon"
    wait_for(lambda: line in d.output(), 60, what="the line about the planted folder")
    assert not ended.exists()
    assert d.alive()


# --------------------------------------------------------------------------- mail


def test_a_manifest_replaced_by_another_artist_does_not_choose_where_the_owners_mail_goes(
    cast: Cast, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """The mailer read the address from whatever manifest was there: one replaced by another
    artist sent the owner's failure mail (reason, log tail) to the replacer's address."""
    from helpers.smtp import SMTPServer

    studio, mallory = cast.spool, cast.mallory
    owner_mail, mallory_mail = "victim@example.test", "mallory@example.test"
    with SMTPServer() as server:
        config = cast.spool.parent / "mail.toml"
        config.write_text(f'[mail]\nsmtp = "127.0.0.1:{server.port}"\nfrom = "farm@example.test"\n')
        config.chmod(0o644)
        first = blender_job(cast.artist, studio, "--max-attempts", "1", "--mail", owner_mail)
        second = blender_job(cast.artist, studio, "--max-attempts", "1", "--mail", owner_mail, "--frames", "1-1",
                             "--priority", "10")  # fails after the first: its mail comes after the first's
        manifest_path = studio / "jobs" / first["job"] / "manifest.json"
        forged = json.loads(manifest_path.read_text())
        forged["mail"] = mallory_mail
        write_as(mallory, manifest_path, json.dumps(forged).encode(), replace=True)  # the job folder is 2775
        mallory.replace_with_fifo(studio / f"shots-{cast.artist.name}" / BLEND.name)  # every chunk fails for good
        d = start(daemons, studio, tmp_path, "farm1", "--blender", FAKEBLENDER, "--config", str(config))
        wait_for(lambda: any(second["job"] in str(m.message["Subject"]) for m in server.messages()), 90,
                 what="the owner's mail for the second job")
        got = server.messages()
    assert all(m.rcpt_tos == [owner_mail] for m in got), [(m.rcpt_tos, m.message["Subject"]) for m in got]
    assert d.alive()
