"""Random access into a zstd-compressed .blend, unpacking only the frames that are read.

Blender (3.0 and later) writes compressed files in the zstd *seekable format*: independent
frames of about a megabyte and, at the end, a skippable frame holding a seek table (each
frame's compressed and uncompressed size). Reading a scene list touches only block headers,
the DNA and a few small blocks, so most frames — mesh data, packed images — are never
unpacked: a 50 MB file is read in the time a plain one is, instead of being unpacked whole
first. Files without a seek table are not for this reader (`NotSeekable`).
"""

from __future__ import annotations

import bisect
import io
import os
import struct
from pathlib import Path

import zstandard

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SKIPPABLE_MAGIC = 0x184D2A5E
SEEKABLE_MAGIC = 0x8F92EAB1
FOOTER = struct.Struct("<IBI")  # number of frames, descriptor, seekable magic
MAX_FRAME = 64 * 1024 * 1024  # Blender's frames are ~1 MB: anything bigger is not worth trusting


class NotSeekable(ValueError):
    """The file is not zstd with a usable seek table."""


class ZstdFrames(io.RawIOBase):
    """A read-only, seekable view of the uncompressed data; keeps the last frame it unpacked."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")
        try:
            self._c_offsets, self._d_offsets = _seek_table(self._fh)
        except BaseException:
            self._fh.close()
            raise
        self._pos = 0
        self._cached = (-1, b"")
        self._dctx = zstandard.ZstdDecompressor()
        self.unpacked = 0  # bytes unpacked so far (for the benchmark and the tests)

    @property
    def size(self) -> int:
        return self._d_offsets[-1]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError("seek before the start of the file")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._pos >= self.size:
            return 0
        index = bisect.bisect_right(self._d_offsets, self._pos) - 1
        data = self._frame(index)
        start = self._pos - self._d_offsets[index]
        n = min(len(buffer), len(data) - start)
        buffer[:n] = data[start : start + n]
        self._pos += n
        return n

    def _frame(self, index: int) -> bytes:
        if self._cached[0] != index:
            self._fh.seek(self._c_offsets[index])
            packed = self._fh.read(self._c_offsets[index + 1] - self._c_offsets[index])
            expected = self._d_offsets[index + 1] - self._d_offsets[index]
            try:
                data = self._dctx.decompress(packed, max_output_size=expected)
            except zstandard.ZstdError as err:
                raise OSError(f"damaged zstd frame {index}: {err}") from None
            if len(data) != expected:
                raise OSError(f"zstd frame {index} holds {len(data)} bytes, its seek table says {expected}")
            self.unpacked += len(data)
            self._cached = (index, data)
        return self._cached[1]

    def close(self) -> None:
        fh = getattr(self, "_fh", None)  # None when __init__ failed before it opened the file
        if fh is not None:
            fh.close()
        super().close()


def _seek_table(fh: io.BufferedReader) -> tuple[list[int], list[int]]:
    size = os.fstat(fh.fileno()).st_size
    if fh.read(4) != ZSTD_MAGIC or size < FOOTER.size + 8:
        raise NotSeekable("not a zstd file")
    fh.seek(size - FOOTER.size)
    frames, descriptor, magic = FOOTER.unpack(fh.read(FOOTER.size))
    entry = 12 if descriptor & 0x80 else 8
    table = frames * entry
    if magic != SEEKABLE_MAGIC or frames == 0 or table + FOOTER.size + 8 > size:
        raise NotSeekable("no seek table")
    fh.seek(size - FOOTER.size - table - 8)
    skippable, frame_size = struct.unpack("<II", fh.read(8))
    if skippable != SKIPPABLE_MAGIC or frame_size != table + FOOTER.size:
        raise NotSeekable("no seek table")
    raw = fh.read(table)
    c_offsets, d_offsets = [0], [0]
    for i in range(frames):
        packed, unpacked = struct.unpack_from("<II", raw, i * entry)
        if unpacked > MAX_FRAME:
            raise NotSeekable(f"frame {i} is too large to unpack at once")
        c_offsets.append(c_offsets[-1] + packed)
        d_offsets.append(d_offsets[-1] + unpacked)
    if c_offsets[-1] > size:
        raise NotSeekable("the seek table points past the end of the file")
    return c_offsets, d_offsets
