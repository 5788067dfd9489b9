"""A failed run's reason with the program's own last error line, and a hint for the errors a new
user meets first.

`exit code 1` says nothing; the line that says why is in the chunk's log, which the artist
then has to find.  `explain()` reads the log's tail (bounded, through the daemon's already
opened log path, never followed elsewhere: the caller passes what renderd wrote) and adds
the last line that reads as an error, e.g. Blender's `Error: Build without OpenImageDenoiser`
(a Cycles scene with denoising on, which Debian's Blender cannot do).  renderd's own lines in
the log (`renderd: ...`) are never taken.  Pure apart from the one read, so it is tested on
text.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

TAIL_BYTES = 64 * 1024
MAX_LINE = 300
# A line that names an error: Blender's `Error: ...` (also after a `Fra:1 Mem:... | ` prefix),
# Python's last traceback line (`ValueError: ...`), `error:`/`fatal:` from compilers and tools.
_ERROR = re.compile(r"(?:^|\|\s*)((?:Error|ERROR|Fatal|FATAL)\b[:!].*)$|^([A-Za-z_.]*(?:Error|Exception): .*)$"
                    r"|^(.*\b(?:error|fatal)\b:.*)$")
HINTS = (
    (re.compile(r"Build without OpenImageDenoiser|OpenImageDenoiser.*not supported", re.I),
     "this Blender has no OpenImageDenoiser (Debian's builds do not): turn denoising off in the scene "
     "(Render Properties > Sampling > Denoise, and the view layer's Denoising Data), or render on hosts "
     "whose Blender has it (e.g. the blender.org build)"),
    (re.compile(r"No such file or directory", re.I),
     "a file the program needs is not there on this host (is the share mounted at the same path everywhere?)"),
)


def error_line(text: str) -> str | None:
    """The last line of `text` that reads as an error (renderd's own lines skipped)."""
    for raw in reversed(text.splitlines()):
        line = raw.strip()
        if not line or line.startswith("renderd:"):
            continue
        m = _ERROR.search(line)
        if m is not None:
            found = next(g for g in m.groups() if g)
            return found[:MAX_LINE]
    return None


def hint_for(line: str) -> str | None:
    for pattern, hint in HINTS:
        if pattern.search(line):
            return hint
    return None


def with_error_line(reason: str, text: str) -> str:
    """`exit code 1: Error: Build without OpenImageDenoiser (hint: ...)`, or the reason as it was."""
    line = error_line(text)
    if line is None:
        return reason
    hint = hint_for(line)
    return f"{reason}: {line}" + (f" (hint: {hint})" if hint else "")


def tail(path: Path, limit: int = TAIL_BYTES) -> str:
    """The last `limit` bytes of a regular file ('' if it cannot be read); never blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        st = os.fstat(fd)
        if not (st.st_mode & 0o170000 == 0o100000):  # a regular file only
            return ""
        os.lseek(fd, max(0, st.st_size - limit), os.SEEK_SET)
        return os.read(fd, limit).decode("utf-8", errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def explain(reason: str, log_path: Path) -> str:
    return with_error_line(reason, tail(log_path))
