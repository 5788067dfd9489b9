"""Small PNG thumbnails of rendered frames, made once and cached in the spool.

A frame's file is found from its chunk's done record (`saved`: Blender's `Saved:` lines, made
absolute against the chunk's cwd).  Those paths come from the spool, so they are hostile: the
file must resolve to a place under the spool or a shared root, be a regular file of bounded
size, and be an image Pillow can read (PNG, JPEG, TIFF, BMP, TGA, WebP, ...); else a clear
refusal.  The thumbnail goes to jobs/<job>/thumbnails/<frame>.png (written through tmp/ and
renamed); a service that may not write there (another artist's job) serves it uncached."""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from render_frontend.farm import JobView
from renderd.errors import RenderdError
from renderd.spool import Spool, open_regular

log = logging.getLogger(__name__)

SIZE = 256
MAX_SOURCE = 1024 * 1024 * 1024
MAKING = threading.BoundedSemaphore(2)  # thumbnails made at once: a page asks for dozens together
MAX_PIXELS = 100_000_000  # Pillow refuses twice this (a decompression bomb)
DIGITS_RE = re.compile(r"(\d+)\D*$")
EXR_MAGIC = b"\x76\x2f\x31\x01"


class NoFrame(RenderdError):
    """The frame is not rendered (yet), or its file is gone."""


class Unreadable(RenderdError):
    """The frame's file is there but no thumbnail can be made of it (format, size, damage)."""


class OutsideRoots(RenderdError):
    """The done record names a file outside the spool and the shared roots."""


def frame_file(spool: Spool, view: JobView, frame: int) -> Path:
    """The saved file of `frame`, from the done record of the chunk that rendered it."""
    for chunk, frames in view.chunk_frames().items():
        if frame not in frames:
            continue
        rec = view.done.get(chunk)
        if rec is None:
            raise NoFrame(f"frame {frame} of {view.job} is not rendered yet")
        saved = [p for p in rec.saved if p]  # strings without NUL (the done record's reader)
        cwd = rec.info.cwd if rec.info is not None else ""  # absolute, or relative without `..` (its reader)
        base = Path(cwd) if cwd.startswith("/") else spool.root / cwd
        by_number = [p for p in saved if (m := DIGITS_RE.search(Path(p).stem)) and int(m[1]) == frame]
        if by_number:
            return base / by_number[-1]
        if len(saved) == len(frames):
            return base / saved[frames.index(frame)]
        raise NoFrame(f"frame {frame} of {view.job} was rendered, but its chunk did not say which file it saved")
    raise NoFrame(f"job {view.job} has no frame {frame}")


def thumbnail(spool: Spool, roots: list[Path], job: str, frame: int, source: Path) -> bytes:
    """The cached thumbnail if it is newer than the frame's file; else a new one (cached if we may)."""
    cache = spool.job_dir(job) / "thumbnails" / f"{frame}.png"
    with _open_source(roots, source) as (fh, mtime):
        try:
            fd = open_regular(cache)
            with os.fdopen(fd, "rb") as cached:
                if os.fstat(cached.fileno()).st_mtime >= mtime:
                    return cached.read(16 * 1024 * 1024)
        except OSError:
            pass
        with MAKING:
            png = make_png(fh, source)
    try:
        spool.ensure_job_dir(job, "thumbnails")
        spool.write_atomic(cache, png, durable=False)
    except (OSError, RenderdError) as err:
        log.debug("thumbnail of %s not cached: %s", source, err)
    return png


@contextmanager
def _open_source(roots: list[Path], source: Path) -> Iterator[tuple[BinaryIO, float]]:
    """The frame's file, open: under a root once resolved, a regular file, of bounded size."""
    real = Path(os.path.realpath(source))
    if not any(real == r or r in real.parents for r in roots):
        raise OutsideRoots(f"{source} is outside the spool and the shared roots: no thumbnail is made of it")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NoFrame(f"{source} is gone") from None
    except OSError as err:
        raise Unreadable(f"cannot read {source}: {err.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable(f"{source} is not a regular file")
        if st.st_size > MAX_SOURCE:
            raise Unreadable(f"{source} is over {MAX_SOURCE >> 20} MiB")
        yield fh, st.st_mtime


def make_png(fh: BinaryIO, source: Path) -> bytes:
    """A PNG of at most SIZE x SIZE pixels; Unreadable for what Pillow cannot read.

    Pillow reads from the open file as it needs (a large frame is not read into memory whole)."""
    head = fh.read(len(EXR_MAGIC))
    fh.seek(0)
    if head == EXR_MAGIC:
        raise Unreadable(f"{source.name} is OpenEXR, which this service cannot read (no EXR reader installed)")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(fh) as opened:
            opened.draft("RGB", (SIZE, SIZE))
            opened.thumbnail((SIZE, SIZE))
            im: Image.Image = opened if opened.mode in ("RGB", "RGBA", "L", "LA") else opened.convert("RGBA")
            out = io.BytesIO()
            im.save(out, "PNG", optimize=False)
    except UnidentifiedImageError:
        raise Unreadable(f"{source.name} is not an image format this service can read "
                         "(PNG, JPEG, TIFF, BMP, TGA, WebP and others are)") from None
    except Image.DecompressionBombError:
        raise Unreadable(f"{source.name} has too many pixels for a thumbnail") from None
    except (OSError, ValueError, SyntaxError, MemoryError, EOFError) as err:
        raise Unreadable(f"{source.name} cannot be read as an image ({err})") from None
    return out.getvalue()
