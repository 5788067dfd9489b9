"""Issue 10, findings 3, 4, 5, 7 and 11 (mode 000): an artist's plants in a studio spool.

Each test plants exactly what the finding describes, as a second Unix user in the spool's group
(mode 2775, umask 002), against real `renderd` daemons, and shows that the daemon lives on,
serves the other jobs, and writes or deletes nothing outside the spool (the victim's shot folder
beside it is compared byte for byte, mtimes included).
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.attacker import (
    DAEMON_USER,
    DaemonAs,
    Studio,
    User,
    can_make_users,
    can_run_as_others,
    ensure_user,
    snapshot,
    studio_spool,
)
from helpers.daemons import add_job, render, wait_for

from renderd.format.info import ChunkInfo
from renderd.format.names import QueueDir

pytestmark = pytest.mark.skipif(not can_run_as_others(), reason="needs root, useradd and /usr/bin/python3.11")

FAKEPROG = str(Path(__file__).parents[1] / "helpers" / "fakeprog.py")
Start = Callable[..., DaemonAs]


@pytest.fixture
def studio() -> Iterator[Studio]:
    with studio_spool() as s:
        yield s


@pytest.fixture
def markers(studio: Studio) -> Path:
    path = studio.base / "markers"
    path.mkdir()
    os.chmod(path, 0o777)  # the fake program may run as the daemon user
    return path


@pytest.fixture
def start(studio: Studio, tmp_path: Path) -> Iterator[Start]:
    started: list[DaemonAs] = []

    def go(name: str, *args: str, user: User | None = None) -> DaemonAs:
        d = DaemonAs(studio.spool, name, tmp_path, args, user)
        started.append(d)
        return d.start()

    yield go
    for d in started:
        if d.alive():
            d.kill()
        d.remove_socket()


def is_real_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:  # moved aside, not made again yet
        return False


def links_in_bad(spool: Path) -> dict[str, str]:
    bad = spool / "bad"
    return {n: os.readlink(bad / n) for n in os.listdir(bad) if (bad / n).is_symlink()}


def attacker_job(studio: Studio, markers: Path, tag: str, *extra: str, opts: tuple[str, ...] = ()) -> dict[str, str]:
    """A job the artist submits with the real `render add` (so its folder is theirs to plant in)."""
    proc = studio.attacker.render(studio.spool, "add", "--frames", "1-1", "--json", *opts, "--",
                                  "python3", FAKEPROG, str(markers), tag, *extra)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    return {"job": data["job"], "chunk": data["chunks"][0]["chunk"]}


def good_job_runs(spool: Path, markers: Path, tag: str) -> None:
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), tag])
    waited = render(spool, "wait", job["job"], "--timeout", "60", check=False)
    assert waited.returncode == 0, waited.stderr
    assert (markers / f"{tag}.runs").exists()


# ----------------------------------------------------------------------------- finding 3


def test_render_clean_never_follows_bad_or_tmp_swapped_for_a_symlink(studio: Studio, start: Start,
                                                                      markers: Path) -> None:
    daemon = start("a", "--allow-commands", "--poll", "0.5")
    # names that look like renderd's litter, old enough for any age limit, in the victim's folder
    for name in ("shot.info.0a1b2c3d", "shot.info.0a1b2c3d.reason", "x.4242.0a1b2c3d.tmp"):
        (studio.victim / name).write_text("looks like litter")
        os.utime(studio.victim / name, (1_000_000_000, 1_000_000_000))
    before = snapshot(studio.victim)
    studio.attacker.replace_with_symlink(studio.spool / "bad", studio.victim)
    studio.attacker.replace_with_symlink(studio.spool / "tmp", studio.victim)

    first = render(studio.spool, "clean", "--older-than", "0s", "--json")  # before the daemon notices
    assert snapshot(studio.victim) == before, first.stdout
    # the daemon moves both links aside (bad/ beside itself, tmp/ into the new bad/) and goes on
    wait_for(lambda: is_real_folder(studio.spool / "bad") and is_real_folder(studio.spool / "tmp"), 60,
             what="bad/ and tmp/ made again")
    second = render(studio.spool, "clean", "--older-than", "0s", "--json")  # sweeps the moved-aside links
    assert json.loads(second.stdout)["files"]["bad"] >= 1
    assert snapshot(studio.victim) == before
    assert daemon.alive()
    good_job_runs(studio.spool, markers, "after-clean")
    assert "Traceback" not in daemon.output()


# ----------------------------------------------------------------------------- finding 4


def test_symlinked_hosts_failed_and_queue_get_no_records_and_no_claims_from_outside(
        studio: Studio, start: Start, markers: Path) -> None:
    daemon = start("a", "--allow-commands", "--poll", "0.5")
    # the artist's own queue, outside the spool, with a chunk that would leave a marker if run
    outside = studio.base / "elsewhere"
    outside.mkdir()
    os.chown(outside, studio.attacker.uid, studio.attacker.gid)  # the artist's home, say
    qdir = QueueDir.build("evil", 99, int(time.time() * 1000))
    info = ChunkInfo(job="evil", chunk="evil-0001", index=1, kind="command",
                     argv=["python3", FAKEPROG, str(markers), "evil"], start=1, end=1, step=1)
    studio.attacker.write_many(outside / qdir.name, [("evil-0001.info", info.to_bytes())], 0o664,
                               staging=outside / ".staging")
    before_outside, before_victim = snapshot(outside), snapshot(studio.victim)

    for sub, target in (("queue", outside), ("hosts", studio.victim), ("failed", studio.victim)):
        studio.attacker.replace_with_symlink(studio.spool / sub, target)
    wait_for(lambda: all(is_real_folder(studio.spool / s) for s in ("queue", "hosts", "failed")), 60,
             what="queue/, hosts/ and failed/ moved aside and made again")
    assert sorted(links_in_bad(studio.spool).values()) == sorted([str(outside), str(studio.victim),
                                                                  str(studio.victim)])

    failing = add_job(studio.spool, "1-1", ["python3", FAKEPROG, str(markers), "fails", "--exit", "3"],
                      "--max-attempts", "1")
    wait_for(lambda: (studio.spool / "failed" / f"{failing['chunks'][0]['chunk']}.info").is_file(), 60,
             what="the failed chunk in the spool's own failed/")
    good_job_runs(studio.spool, markers, "good")
    assert (studio.spool / "hosts" / "a.json").is_file()
    assert not (markers / "evil.starts").exists(), "a chunk was claimed from outside the spool"
    assert snapshot(outside) == before_outside
    assert snapshot(studio.victim) == before_victim
    assert daemon.alive()


def test_cancelled_folder_planted_as_a_symlink_gets_no_records_outside(studio: Studio, start: Start,
                                                                       markers: Path) -> None:
    daemon = start("a", "--allow-commands", "--poll", "0.5")
    hold = markers / "hold"
    hold.write_text("")
    job = attacker_job(studio, markers, "held", "--hold", str(hold))
    wait_for(lambda: (markers / "held.starts").exists(), 60, what="the chunk running")
    before = snapshot(studio.victim)
    studio.attacker.replace_with_symlink(studio.spool / "jobs" / job["job"] / "cancelled", studio.victim)
    proc = studio.attacker.render(studio.spool, "cancel", job["job"])
    assert proc.returncode == 0, proc.stderr
    cancelled = studio.spool / "jobs" / job["job"] / "cancelled"
    wait_for(lambda: is_real_folder(cancelled) and (cancelled / f"{job['chunk']}.json").is_file(), 60,
             what="the cancelled record in the job's own folder")
    assert snapshot(studio.victim) == before
    assert str(studio.victim) in links_in_bad(studio.spool).values()
    assert daemon.alive()
    good_job_runs(studio.spool, markers, "after-cancel")


# ----------------------------------------------------------------------------- finding 5


def test_log_swapped_for_a_symlink_during_the_run_gets_no_footer_through_it(studio: Studio, start: Start,
                                                                            markers: Path) -> None:
    daemon = start("a", "--allow-commands", "--poll", "0.5")
    hold = markers / "hold"
    hold.write_text("")
    job = attacker_job(studio, markers, "logged", "--hold", str(hold))
    wait_for(lambda: (markers / "logged.starts").exists(), 60, what="the chunk running")
    logs = studio.spool / "jobs" / job["job"] / "logs"
    (log,) = [logs / n for n in os.listdir(logs) if n.endswith(".log")]
    before = snapshot(studio.victim)
    studio.attacker.replace_with_symlink(log, studio.victim / "notes.txt")
    hold.unlink()
    wait_for(lambda: (studio.spool / "jobs" / job["job"] / "done" / f"{job['chunk']}.json").is_file(), 60,
             what="the chunk done")
    assert snapshot(studio.victim) == before, "the footer went through the link"
    assert daemon.alive()
    good_job_runs(studio.spool, markers, "after-log")


# ----------------------------------------------------------------------------- finding 7


def test_fifo_at_the_predictable_log_path_does_not_block_the_daemon(studio: Studio, start: Start,
                                                                    markers: Path) -> None:
    start("a", "--allow-commands", "--poll", "0.5").stop()  # lays the spool out (group-writable) and goes
    job = attacker_job(studio, markers, "fifo-log")
    log = studio.spool / "jobs" / job["job"] / "logs" / f"{job['chunk']}.a.1.log"
    studio.attacker.replace_with_fifo(log)
    daemon = start("a", "--allow-commands", "--poll", "0.5")
    wait_for(lambda: (studio.spool / "jobs" / job["job"] / "done" / f"{job['chunk']}.json").is_file(), 60,
             what="the chunk done, its log made anew")
    assert stat.S_ISREG(os.lstat(log).st_mode)
    fifos = [n for n in os.listdir(studio.spool / "bad") if stat.S_ISFIFO(os.lstat(studio.spool / "bad" / n).st_mode)]
    assert len(fifos) == 1, "the FIFO is kept in bad/, with its reason"
    assert daemon.alive()
    good_job_runs(studio.spool, markers, "after-fifo")


def test_fifo_swapped_in_for_the_heartbeat_and_the_log_mid_run_does_not_block_the_daemon(
        studio: Studio, start: Start, markers: Path) -> None:
    daemon = start("a", "--allow-commands", "--poll", "0.5", "--lease", "2", "--slots", "2")
    hold = markers / "hold"
    hold.write_text("")
    job = attacker_job(studio, markers, "swapped", "--hold", str(hold))
    wait_for(lambda: (markers / "swapped.starts").exists(), 60, what="the chunk running")
    claimed = studio.spool / "claimed"
    (hb,) = [claimed / n for n in os.listdir(claimed) if n.endswith(".hb")]
    logs = studio.spool / "jobs" / job["job"] / "logs"
    (log,) = [logs / n for n in os.listdir(logs) if n.endswith(".log")]
    studio.attacker.replace_with_fifo(hb)
    studio.attacker.replace_with_fifo(log)
    # the next heartbeat (every 0.5 s) replaces the FIFO with a file of its own instead of blocking
    wait_for(lambda: stat.S_ISREG(os.lstat(hb).st_mode), 30, what="the heartbeat a file again")
    good_job_runs(studio.spool, markers, "meanwhile")  # the second slot serves another job
    hold.unlink()
    wait_for(lambda: (studio.spool / "jobs" / job["job"] / "done" / f"{job['chunk']}.json").is_file(), 60,
             what="the swapped chunk done (its footer skipped, not blocked on)")
    record = json.loads((studio.spool / "hosts" / "a.json").read_text())
    assert record.get("state") != "offline" and time.time() - record["heartbeat"] < 30
    assert daemon.alive()
    assert "Traceback" not in daemon.output()


# ----------------------------------------------------------------------------- finding 11 (mode 000)


def test_mode_000_info_files_are_quarantined_once_with_a_few_log_lines(studio: Studio, start: Start,
                                                                        markers: Path) -> None:
    ensure_user(DAEMON_USER)
    daemon = start("a", "--allow-commands", "--poll", "0.5", user=User(DAEMON_USER))  # root would read them
    count = 300
    qdir = QueueDir.build("locked", 60, int(time.time() * 1000))
    files = []
    for i in range(1, count + 1):
        info = ChunkInfo(job="locked", chunk=f"locked-{i:04d}", index=i, kind="command", argv=["true"],
                         start=i, end=i, step=1)
        files.append((f"locked-{i:04d}.info", info.to_bytes()))
    studio.attacker.write_many(studio.spool / "queue" / qdir.name, files, 0o000)

    def reasons() -> list[Path]:
        return [p for p in (studio.spool / "bad").iterdir() if p.name.startswith("locked-") and
                p.name.endswith(".reason")]

    wait_for(lambda: len(reasons()) == count, 120, what=f"{count} unreadable info files in bad/")
    assert all("permission denied" in p.read_text() for p in reasons())
    job = attacker_job(studio, markers, "readable")
    waited = render(studio.spool, "wait", job["job"], "--timeout", "60", check=False)
    assert waited.returncode == 0, waited.stderr
    lines = [line for line in daemon.output().splitlines() if "locked-" in line or "held back" in line]
    assert len(lines) <= 60, f"{len(lines)} log lines for {count} planted files"
    assert daemon.alive()


def test_helpers_run_as_another_user(studio: Studio) -> None:
    """The plants are really made by the artist, not by root."""
    studio.attacker.mkdir(studio.spool / "mine")
    assert os.lstat(studio.spool / "mine").st_uid == studio.attacker.uid != 0
    assert can_make_users()
