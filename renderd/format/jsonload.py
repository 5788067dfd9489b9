"""Bounded JSON: the one way the format layer turns spool bytes into Python values.

`json.loads` is recursive, so `[` x 100 000 raises RecursionError (which escaped every reader and
stopped daemons at start); Python refuses ints over 4 300 digits with ValueError but converts a
4 000-digit one slowly; `NaN`, `Infinity` and `1e400` are floats no record means.  So the size is
capped, the nesting depth is measured on the bytes BEFORE the parser sees them, numbers must be
finite and short, and every failure is a `BadRecord` with the path and one sentence.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from renderd.errors import BadRecord

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 16
MAX_NUMBER_CHARS = 32  # a 64-bit int is 20 characters, a float's repr at most 24

_STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST_RE = re.compile(rb"\[\]|\{\}")


def nesting_depth_ok(raw: bytes, depth: int) -> bool:
    """True when no array/object in `raw` is nested deeper than `depth` (and brackets balance).

    Linear and non-recursive: strings are blanked, everything but brackets dropped, and then each
    pass removes the innermost pairs (which are now adjacent); `depth` passes empty any text of
    that depth at most.  Malformed bracket runs are refused too (the parser would refuse them)."""
    if raw.count(b"[") + raw.count(b"{") <= depth:
        return True
    brackets = _STRING_RE.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    for _ in range(depth):
        if not brackets:
            return True
        shorter = _INNERMOST_RE.sub(b"", brackets)  # one level per pass (two replace() calls could take two)
        if len(shorter) == len(brackets):
            return False  # unbalanced or mismatched: not JSON
        brackets = shorter
    return not brackets


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"number {text[:20]}... has too many digits")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"number {text[:20]}... has too many digits")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:30]} is out of range")
    return value


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def load(raw: bytes, path: Path | str | None = None, *, what: str = "record", limit: int = MAX_BYTES,
         depth: int = MAX_DEPTH, error: type[BadRecord] = BadRecord) -> Any:
    """Parse `raw`; BadRecord(path, sentence) for anything too big, too deep, not UTF-8 or not JSON."""
    if len(raw) > limit:
        raise error(f"not a renderd {what}: larger than {limit} bytes", path)
    if not nesting_depth_ok(raw, depth):
        raise error(f"not a renderd {what} (not JSON: nested deeper than {depth} levels)", path)
    try:
        return json.loads(raw.decode("utf-8"), parse_int=_int, parse_float=_float, parse_constant=_constant)
    except (ValueError, RecursionError) as err:  # bad UTF-8 or JSON, NaN, 1e400, long numbers
        raise error(f"not a renderd {what} (not JSON: {str(err)[:200]})", path) from None


def load_object(raw: bytes, path: Path | str | None = None, *, what: str = "record", limit: int = MAX_BYTES,
                depth: int = MAX_DEPTH, error: type[BadRecord] = BadRecord) -> dict[str, Any]:
    """`load`, and the top level must be an object."""
    data = load(raw, path, what=what, limit=limit, depth=depth, error=error)
    if not isinstance(data, dict):
        raise error(f"not a renderd {what} (not a JSON object)", path)
    return data


def dumps(data: Any) -> bytes:
    """The writers' one encoding: indented, UTF-8, a final newline (readable with `cat`)."""
    return (json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode()
