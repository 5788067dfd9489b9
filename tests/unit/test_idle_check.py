"""`renderd --check`'s I/O scheduler lookup, on sysfs-shaped folders and on this machine's real disk."""

from __future__ import annotations

import os
from pathlib import Path

from renderd.check import _block_dir, autogroup_nice, disk_schedulers, io_priority, scheduler_line


def disk(root: Path, name: str, scheduler: str) -> Path:
    (root / name / "queue").mkdir(parents=True)
    (root / name / "queue" / "scheduler").write_text(scheduler + "\n")
    return root / name


def test_a_partition_is_followed_to_its_disk(tmp_path: Path) -> None:
    sda = disk(tmp_path, "sda", "mq-deadline kyber [bfq] none")
    (sda / "sda2").mkdir()
    (sda / "sda2" / "partition").write_text("2\n")
    assert disk_schedulers(sda / "sda2") == {"sda": "bfq"}


def test_lvm_and_md_are_followed_to_every_member_disk(tmp_path: Path) -> None:
    nvme = disk(tmp_path, "nvme0n1", "[none] mq-deadline kyber bfq")
    sdb = disk(tmp_path, "sdb", "mq-deadline kyber [bfq] none")
    dm = tmp_path / "dm-0"
    (dm / "slaves").mkdir(parents=True)
    (dm / "slaves" / "nvme0n1").symlink_to(nvme)
    (dm / "slaves" / "sdb").symlink_to(sdb)
    assert disk_schedulers(dm) == {"nvme0n1": "none", "sdb": "bfq"}


def test_the_real_disk_of_the_root_file_system() -> None:
    sys_dir = _block_dir(Path("/"))
    line = scheduler_line("root", Path("/"))
    if sys_dir is None:  # a root on a network or virtual file system
        assert "no local block device" in line or "network" in line
        return
    found = disk_schedulers(sys_dir)
    for name, scheduler in found.items():
        text = Path(f"/sys/block/{name}/queue/scheduler").read_text()
        assert f"[{scheduler}]" in text
    assert line.endswith("idle I/O class honoured") == all(s == "bfq" for s in found.values())


def test_own_priorities_are_read_from_the_kernel() -> None:
    io = io_priority(os.getpid())
    assert io is not None and io[0] in (0, 1, 2, 3)
    group = autogroup_nice(os.getpid())
    assert group is None or -20 <= group <= 19
