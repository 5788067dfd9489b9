"""fs_type reads mount points as the kernel escapes them in mountinfo (space, tab, newline, backslash)."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderd.fsinfo import fs_type, unescape_mount


def _mountinfo(tmp_path: Path, *mounts: tuple[bytes, bytes]) -> str:
    lines = [b"22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw"]
    for i, (mount, kind) in enumerate(mounts):
        lines.append(b"%d 22 0:%d / %s rw,relatime - %s server:/x rw" % (30 + i, 40 + i, mount, kind))
    path = tmp_path / "mountinfo"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return str(path)


@pytest.mark.parametrize(
    ("escaped", "name"),
    [(rb"with\040space", "with space"), (rb"with\011tab", "with\ttab"), (rb"new\012line", "new\nline"),
     (rb"back\134slash", "back\\slash"), ("Schöne\\040Szene".encode(), "Schöne Szene")],
)
def test_every_octal_escape_in_a_mount_point_is_decoded(tmp_path: Path, escaped: bytes, name: str) -> None:
    assert unescape_mount(escaped) == name
    mount = tmp_path / name
    (mount / "spool").mkdir(parents=True)
    info = _mountinfo(tmp_path, (str(tmp_path).encode() + b"/" + escaped, b"nfs4"))
    assert fs_type(mount / "spool", info) == "nfs4"
    assert fs_type(tmp_path, info) == "ext4"


def test_a_tab_mount_is_not_mistaken_for_its_prefix(tmp_path: Path) -> None:
    (tmp_path / "a\tb").mkdir()
    root = str(tmp_path).encode()
    info = _mountinfo(tmp_path, (root + rb"/a", b"cifs"), (root + rb"/a\011b", b"nfs"))
    assert fs_type(tmp_path / "a\tb", info) == "nfs"
