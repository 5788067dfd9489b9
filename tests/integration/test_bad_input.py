"""Hostile info files dropped into a real queue folder of a running daemon: each is quarantined with its
reason, nothing is deleted, nothing outside the spool is touched, and the daemon keeps working."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from conftest import FAKEPROG
from helpers.daemons import add_job, render, wait_for

from renderd.format.info import ChunkInfo
from renderd.format.names import QueueDir


def info_bytes(chunk: str, job: str = "hostile", **over: object) -> bytes:
    info = ChunkInfo(job=job, chunk=chunk, index=1, kind="command", argv=["true"], start=1, end=1, step=1)
    data = json.loads(info.to_bytes())
    data.update(over)
    return json.dumps(data).encode()


def write(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def huge(path: Path) -> None:
    """A valid info file padded to 100 MB (sparse: the daemon must not read it all to refuse it)."""
    path.write_bytes(info_bytes(path.name[:-5]))
    os.truncate(path, 100 * 1024 * 1024)


def fifo(path: Path) -> None:
    os.mkfifo(path)


def directory(path: Path) -> None:
    path.mkdir()
    (path / "inside").write_text("x")


# file name -> (how to make it, words its .reason must hold)
CORPUS: dict[str, tuple[Callable[[Path], None], str]] = {
    "hostile-0001.info": (write(info_bytes("hostile-0001")[:40]), "not JSON"),
    "hostile-0002.info": (write(bytes(range(256)) * 8), "not JSON"),
    "hostile-0003.info": (huge, "larger than"),
    "hostile-0005.info": (write(info_bytes("hostile-0005", cwd="../../..")), "escapes the spool"),
    "hostile-0006.info": (write(info_bytes("../../etc-0006", job="../../etc")), "not a safe name"),
    "hostile-0007.info": (write(info_bytes("hostile-0007", format=99)), "newer renderd"),
    "other-0001.info": (write(info_bytes("other-0001", job="other")), "belongs to job 'other'"),
    "hostile-0008.info": (fifo, "not a regular file"),
    "hostile-0009.info": (write(b"[" * 200_000), "not JSON"),
    "hostile-0010.info": (write(info_bytes("hostile-0010").replace(b'"created": 0.0', b'"created": NaN')), "not JSON"),
    "hostile-0011.info": (write(info_bytes("hostile-0011", argv=["false", "\ud800"])), "not valid Unicode"),
    "hostile-0012.info": (write(info_bytes("hostile-0099")), "does not match"),
    "hostile-0013.info": (directory, "not a regular file"),
    "hostile-0014.info": (write(b'{"format": 1, "index": ' + b"9" * 5000 + b"}"), "not JSON"),
    "hostile-0015.info": (write(info_bytes("hostile-0015", created=1e300)), "'created'"),
}
FOREIGN = (".nfs000123", "foo.txt~", "hostile-0016.info.tmp", "#hostile-0017.info#")


def snapshot(path: Path) -> tuple[int, int, bytes | str]:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return st.st_mode, 0, os.readlink(path)
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
        return st.st_mode, st.st_size, head
    if stat.S_ISDIR(st.st_mode):
        return st.st_mode, 0, " ".join(sorted(os.listdir(path)))
    return st.st_mode, 0, b""


def quarantined(spool: Path) -> dict[str, Path]:
    """The original name -> bad/<name>.<nonce>, once its .reason is written beside it (just after the move)."""
    names = set(os.listdir(spool / "bad"))
    return {n.rsplit(".", 1)[0]: spool / "bad" / n for n in names if f"{n}.reason" in names}


def test_daemon_quarantines_each_hostile_info_file_with_its_reason_and_keeps_running(
    spool: Path,
    markers: Path,
    tmp_path: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    daemon = start_daemon("a", "--allow-commands", "--poll", "0.5")
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "precious.info"
    target.write_bytes(info_bytes("hostile-0004"))
    os.utime(target, (1_000_000_000, 1_000_000_000))
    before_target = (target.read_bytes(), os.stat(target).st_mtime_ns)

    # Build the folder aside and rename it into the queue at once, as `render add` does,
    # so the daemon meets each file whole.
    qdir = QueueDir.build("hostile", 80, int(time.time() * 1000))
    staging = tmp_path / "staging"
    staging.mkdir()
    for name, (make, _) in CORPUS.items():
        make(staging / name)
    (staging / "hostile-0004.info").symlink_to(target)
    for name in FOREIGN:
        (staging / name).write_text("not the spool's")
    originals = {p.name: snapshot(p) for p in staging.iterdir()}
    os.rename(staging, spool / "queue" / qdir.name)
    (spool / "queue" / ".nfs0000000000abcdef00000001").write_text("NFS silly-rename leftover")

    expected = {**{n: reason for n, (_, reason) in CORPUS.items()}, "hostile-0004.info": "symbolic link"}
    wait_for(lambda: set(quarantined(spool)) >= set(expected), 60, what="every hostile file in bad/")

    bad = quarantined(spool)
    assert set(bad) == set(expected), "only the hostile files are quarantined"
    assert len(os.listdir(spool / "bad")) == 2 * len(expected), "one .reason per quarantined file, nothing else"
    for name, words in expected.items():
        reason = bad[name].with_name(bad[name].name + ".reason").read_text()
        assert words in reason, f"{name}: {reason!r}"
        assert reason.count("\n") == 1, "one line"
        assert snapshot(bad[name]) == originals[name], f"{name} was changed instead of kept as it was"
    queue_folder = spool / "queue" / qdir.name
    assert sorted(os.listdir(queue_folder)) == sorted(FOREIGN), "foreign names stay where they are"
    assert (spool / "queue" / ".nfs0000000000abcdef00000001").exists()
    assert (target.read_bytes(), os.stat(target).st_mtime_ns) == before_target, "the symlink target was touched"
    assert list(outside.iterdir()) == [target]
    assert os.readlink(bad["hostile-0004.info"]) == str(target)
    assert os.listdir(spool / "claimed") == []

    # The daemon is the same process and still runs good work.
    assert daemon.alive()
    job = add_job(spool, "1-2", ["python3", FAKEPROG, str(markers), "good{start}"], "--chunk", "1")
    waited = render(spool, "wait", job["job"], "--timeout", "60", check=False)
    assert waited.returncode == 0, waited.stderr
    assert (markers / "good1.runs").exists() and (markers / "good2.runs").exists()
    assert daemon.alive()
    log = daemon.output()
    assert "Traceback" not in log
    for name in expected:
        assert sum(f"quarantined {name} ->" in line for line in log.splitlines()) == 1, name


def test_queue_folder_that_is_a_symlink_out_of_the_spool_is_quarantined_and_its_target_untouched(
    spool: Path,
    markers: Path,
    tmp_path: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    daemon = start_daemon("a", "--allow-commands", "--poll", "0.5")
    outside = tmp_path / "outside"
    outside.mkdir()
    argv = ["python3", FAKEPROG, str(markers), "escaped"]
    (outside / "linked-0001.info").write_bytes(info_bytes("linked-0001", job="linked", argv=argv))
    name = QueueDir.build("linked", 90, int(time.time() * 1000)).name
    (spool / "queue" / name).symlink_to(outside, target_is_directory=True)

    bad = wait_for(lambda: quarantined(spool).get(name), 60, what="the symlinked folder in bad/")
    assert "symbolic link" in bad.with_name(bad.name + ".reason").read_text()
    assert os.readlink(bad) == str(outside)
    assert os.listdir(outside) == ["linked-0001.info"]
    assert not (markers / "escaped.starts").exists() and not (markers / "escaped.runs").exists()
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "good"])
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0
    assert daemon.alive() and os.listdir(outside) == ["linked-0001.info"]


HOSTILE_MANIFESTS = {
    "evil-1": {"job": "evil-1", "created": "yesterday", "chunks": "x", "kind": ["a"], "priority": "hi"},
    "evil-2": {"job": "evil-2", "created": 1e300, "chunks": [1, None, {"chunk": 5}], "frames": "many", "name": 7},
    "evil-3": [1, 2, 3],
}
HOSTILE_HOSTS = {
    "x": {"name": "x", "heartbeat": 1e300, "load": 5, "chunks": "abc", "cpus": [1], "mem_free": "lots", "state": None},
    "y": [1, 2],
    "z": {"heartbeat": "now", "load": [], "chunks": [None, {"chunk": []}], "pid": "me", "slots": "two"},
}


def test_front_end_reads_hostile_manifests_and_host_records_without_a_traceback(
    spool: Path,
    markers: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    start_daemon("a", "--allow-commands", "--poll", "0.5")
    job = add_job(spool, "1-1", ["python3", FAKEPROG, str(markers), "good"])
    assert render(spool, "wait", job["job"], "--timeout", "60", check=False).returncode == 0
    for name, manifest in HOSTILE_MANIFESTS.items():
        (spool / "jobs" / name).mkdir()
        (spool / "jobs" / name / "manifest.json").write_text(json.dumps(manifest))
    for name, record in HOSTILE_HOSTS.items():
        (spool / "hosts" / f"{name}.json").write_text(json.dumps(record))
    for args in (("status",), ("status", "--json"), ("hosts",), ("hosts", "--json"), ("status", job["job"])):
        out = render(spool, *args, check=False)
        assert out.returncode == 0 and "Traceback" not in out.stderr, (args, out.stderr)
    assert job["job"] in render(spool, "status").stdout
    waits = {name: render(spool, "wait", name, "--timeout", "5", check=False) for name in HOSTILE_MANIFESTS}
    assert all("Traceback" not in out.stderr for out in waits.values())
    assert {name: out.returncode for name, out in waits.items()} == {"evil-1": 2, "evil-2": 2, "evil-3": 2}
    assert all(out.stderr.startswith(f"Error: job {name!r} is unreadable: ") and out.stderr.count("\n") == 1
               for name, out in waits.items()), waits


def test_hostile_stale_claims_are_quarantined_on_recovery(
    spool: Path,
    markers: Path,
    tmp_path: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    """Claims in the daemon's own name with a dead pid are recovered at once: hostile ones go to bad/."""
    outside = tmp_path / "outside.info"
    outside.write_bytes(info_bytes("crash-0003", job="crash"))
    dead = 4_194_304 + 1  # above the kernel's largest pid: never alive
    claimed = spool / "claimed"
    claimed.mkdir(parents=True)
    names = {f"crash-{i:04d}.info@a.{dead}.0badcafe": i for i in range(1, 6)}
    by_index = {i: claimed / n for n, i in names.items()}
    by_index[1].write_bytes(b"\x00\x01garbage")
    by_index[2].mkdir()
    by_index[3].symlink_to(outside)
    by_index[4].write_bytes(info_bytes("crash-0099", job="crash"))
    by_index[5].write_bytes(info_bytes("crash-0005", job="crash", argv=["python3", FAKEPROG, str(markers), "back"]))
    os.mkfifo(claimed / f"{by_index[5].name}.hb")
    daemon = start_daemon("a", "--allow-commands", "--poll", "0.5")

    expected = {by_index[1].name: "not JSON", by_index[2].name: "not a regular file"}
    expected |= {by_index[3].name: "symbolic link", by_index[4].name: "holds chunk 'crash-0099'"}
    found = wait_for(lambda: len(quarantined(spool)) == 4 and quarantined(spool), 60, what="4 claims in bad/")
    for bad in found.values():
        reason = bad.with_name(bad.name + ".reason").read_text()
        assert any(bad.name.startswith(f"crash-{i:04d}.info@a.") for i in (1, 2, 3, 4)), bad.name
        index = int(bad.name[6:10])
        assert expected[by_index[index].name] in reason, (bad.name, reason)
    wait_for(lambda: (markers / "back.runs").exists(), 60, what="the sound stale claim to run again")
    assert outside.read_bytes() == info_bytes("crash-0003", job="crash")
    assert daemon.alive() and "Traceback" not in daemon.output()


def test_hostile_claim_with_the_longest_names_is_quarantined(spool: Path, start_daemon) -> None:  # type: ignore[no-untyped-def]
    """A 160-character chunk id claimed by a daemon with a 64-character name still fits in bad/ with its reason."""
    host = "h" * 64
    chunk = "j" * 155 + "-0001"
    dead = 4_194_304 + 1
    (spool / "claimed").mkdir(parents=True)
    (spool / "claimed" / f"{chunk}.info@{host}.{dead}.0badcafe").write_bytes(b"garbage")
    daemon = start_daemon(host, "--allow-commands", "--poll", "0.5")
    [bad] = wait_for(lambda: list(quarantined(spool).values()), 60, what="the claim in bad/")
    assert "not JSON" in bad.with_name(bad.name + ".reason").read_text()
    assert bad.read_bytes() == b"garbage" and os.listdir(spool / "claimed") == []
    assert daemon.alive()


def test_job_folder_that_is_a_symlink_out_of_the_spool_gets_no_logs_and_its_chunk_is_quarantined(
    spool: Path,
    markers: Path,
    tmp_path: Path,
    start_daemon,  # type: ignore[no-untyped-def]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    argv = ["python3", FAKEPROG, str(markers), "escaped"]
    daemon = start_daemon("a", "--allow-commands", "--poll", "0.5")
    (spool / "jobs" / "linkjob").symlink_to(outside, target_is_directory=True)
    qdir = spool / "tmp" / "staging-linkjob"
    qdir.mkdir()
    (qdir / "linkjob-0001.info").write_bytes(info_bytes("linkjob-0001", job="linkjob", argv=argv))
    qdir.rename(spool / "queue" / QueueDir.build("linkjob", 90, int(time.time() * 1000)).name)

    def claimed_copy_in_bad() -> Path | None:
        return next((p for n, p in quarantined(spool).items() if n.startswith("linkjob-0001.info")), None)

    bad = wait_for(claimed_copy_in_bad, 60, what="the chunk in bad/")
    assert "symbolic link" in bad.with_name(bad.name + ".reason").read_text()
    assert os.listdir(outside) == []
    assert not (markers / "escaped.runs").exists()
    assert daemon.alive()
