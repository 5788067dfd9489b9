"""The spool's one way in and out: every plant a hostile artist can make, refused without blocking."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from renderd.spool.io import SpoolIO, UnsafeEntry

LAYOUT = ("jobs", "queue", "claimed", "failed", "bad", "hosts", "events", "tmp", "locks")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "spool"
    for sub in LAYOUT:
        (root / sub).mkdir(parents=True)
    return root


@pytest.fixture
def sio(root: Path) -> Iterator[SpoolIO]:
    io = SpoolIO(root, LAYOUT)
    yield io
    io.close()


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """Someone's work outside the spool, which nothing may touch."""
    folder = tmp_path / "shot"
    folder.mkdir()
    (folder / "frame.exr").write_bytes(b"precious")
    return folder


def test_reads_and_writes_plain_files_by_absolute_or_relative_path(root: Path, sio: SpoolIO) -> None:
    sio.write_new(root / "hosts" / "a.json", b"{}")
    assert sio.read("hosts/a.json", 10) == b"{}"
    sio.write_atomic(root / "hosts" / "a.json", b'{"x": 1}', root / "tmp" / "a.tmp")
    assert (root / "hosts" / "a.json").read_bytes() == b'{"x": 1}'
    assert sio.names(root / "tmp") == []
    assert sorted(sio.names("hosts")) == ["a.json"]


def test_symlinked_layout_folder_is_never_followed(root: Path, sio: SpoolIO, victim: Path) -> None:
    (root / "hosts").rmdir()
    (root / "hosts").symlink_to(victim)
    with pytest.raises(UnsafeEntry, match="symbolic link"):
        sio.write_new(root / "hosts" / "x.json", b"{}")
    with pytest.raises(UnsafeEntry):
        sio.names(root / "hosts")
    with pytest.raises(UnsafeEntry):
        sio.unlink(root / "hosts" / "frame.exr")
    with pytest.raises(UnsafeEntry):
        sio.rename(root / "hosts" / "frame.exr", root / "bad" / "stolen")
    assert sorted(os.listdir(victim)) == ["frame.exr"]


def test_layout_folder_swapped_for_a_symlink_after_caching_is_noticed(root: Path, sio: SpoolIO, victim: Path) -> None:
    sio.write_new(root / "failed" / "a.info", b"1")  # caches failed/
    os.rename(root / "failed", root / "failed.old")
    (root / "failed").symlink_to(victim)
    with pytest.raises(UnsafeEntry):
        sio.write_new(root / "failed" / "b.info", b"2")
    assert sorted(os.listdir(victim)) == ["frame.exr"]
    (root / "failed").unlink()
    (root / "failed").mkdir()  # a real folder again: used, and not the old one
    sio.write_new(root / "failed" / "c.info", b"3")
    assert os.listdir(root / "failed") == ["c.info"]


def test_symlink_deeper_down_is_refused(root: Path, sio: SpoolIO, victim: Path) -> None:
    (root / "jobs" / "J").mkdir()
    (root / "jobs" / "J" / "logs").symlink_to(victim)
    with pytest.raises(UnsafeEntry):
        sio.open(root / "jobs" / "J" / "logs" / "frame.exr", os.O_WRONLY | os.O_APPEND)
    (root / "jobs" / "K").symlink_to(victim)
    with pytest.raises(UnsafeEntry):
        sio.mkdir(root / "jobs" / "K" / "logs")
    with pytest.raises(UnsafeEntry):
        sio.mkdir(root / "jobs" / "K")
    assert sorted(os.listdir(victim)) == ["frame.exr"]


def test_symlink_fifo_folder_device_where_a_file_belongs(root: Path, sio: SpoolIO, victim: Path) -> None:
    (root / "claimed" / "link").symlink_to(victim / "frame.exr")
    os.mkfifo(root / "claimed" / "fifo")
    (root / "claimed" / "dir").mkdir()
    for name, what in (("link", "symbolic link"), ("fifo", "FIFO"), ("dir", "folder")):
        for flags in (os.O_RDONLY, os.O_WRONLY | os.O_APPEND, os.O_WRONLY | os.O_CREAT | os.O_APPEND):
            with pytest.raises(UnsafeEntry, match=what):
                os.close(sio.open(root / "claimed" / name, flags))  # returns at once: a FIFO never blocks
    if os.geteuid() == 0:  # a device node (mknod needs root; a mount without nodev lets one in)
        os.mknod(root / "claimed" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        with pytest.raises(UnsafeEntry, match="device"):
            sio.read(root / "claimed" / "null", 1)
    assert (victim / "frame.exr").read_bytes() == b"precious"


def test_paths_that_climb_out_are_refused(root: Path, sio: SpoolIO) -> None:
    for bad in ("../x", "jobs/../../x", "/etc/passwd", "", "jobs//x", "jobs/./x"):
        with pytest.raises(UnsafeEntry):
            sio.parts(bad)
    assert sio.parts(root / "jobs" / "J") == ("jobs", "J")


def test_reads_are_bounded(root: Path, sio: SpoolIO) -> None:
    (root / "hosts" / "big.json").write_bytes(b"x" * 1000)
    assert len(sio.read(root / "hosts" / "big.json", 1000)) == 1000
    with pytest.raises(UnsafeEntry, match="larger than 999"):
        sio.read(root / "hosts" / "big.json", 999)


def test_listing_missing_or_unlinking_missing_is_quiet(root: Path, sio: SpoolIO) -> None:
    assert sio.names(root / "queue" / "gone") == []
    assert sio.unlink(root / "claimed" / "gone") is False
    assert not sio.exists(root / "claimed" / "gone")
    (root / "claimed" / "l").symlink_to("/nonexistent")
    assert sio.exists(root / "claimed" / "l")  # something is there, even if it is not ours


def test_unlink_removes_a_symlink_never_its_target(root: Path, sio: SpoolIO, victim: Path) -> None:
    (root / "bad" / "l").symlink_to(victim / "frame.exr")
    assert sio.unlink(root / "bad" / "l")
    assert (victim / "frame.exr").exists()


def test_remove_tree_stays_inside(root: Path, sio: SpoolIO, victim: Path) -> None:
    (root / "bad" / "x").mkdir()
    (root / "bad" / "x" / "inner").symlink_to(victim)
    (root / "bad" / "x" / "f").write_text("1")
    sio.remove_tree(root / "bad" / "x")
    (root / "bad" / "y").symlink_to(victim)
    sio.remove_tree(root / "bad" / "y")
    assert os.listdir(root / "bad") == []
    assert sorted(os.listdir(victim)) == ["frame.exr"]


def test_durable_rename_and_mkdir(root: Path, sio: SpoolIO) -> None:
    sio.write_new(root / "tmp" / "a", b"1")
    sio.rename(root / "tmp" / "a", root / "claimed" / "a", durable=True)
    assert (root / "claimed" / "a").read_bytes() == b"1"
    sio.mkdir(root / "jobs" / "J")
    sio.mkdir(root / "jobs" / "J")  # exists: fine
    (root / "jobs" / "F").write_text("")
    with pytest.raises(UnsafeEntry, match="not a folder"):
        sio.mkdir(root / "jobs" / "F")
    sio.rmdir(root / "jobs" / "J")
    sio.fsync_folder(root / "claimed")


def test_threads_share_one_instance(root: Path, sio: SpoolIO) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                sio.write_new(root / "claimed" / f"{n}.{i}", b"x")
                assert sio.read(root / "claimed" / f"{n}.{i}", 1) == b"x"
                sio.unlink(root / "claimed" / f"{n}.{i}")
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert os.listdir(root / "claimed") == []


def test_repeated_warnings_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from renderd.ratelog import RateLimitedLog

    now = [0.0]
    rl = RateLimitedLog(logging.getLogger("t"), burst=3, window=60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        written = [rl.warning("unreadable", "cannot read %s", n) for n in range(2000)]
        assert written.count(True) == 3
        now[0] = 61.0
        rl.warning("unreadable", "cannot read %s", "again")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5
    assert "1997 more warning(s)" in lines[3]
