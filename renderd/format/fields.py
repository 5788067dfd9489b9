"""Typed, bounded access to the fields of one parsed record: the readers' shared vocabulary.

Each accessor checks the type (a JSON `true` is not the number 1), the range or length, and says
in one sentence which field is wrong; `Fields` carries the record's path so that every error
does too.  A string must be valid Unicode (a lone `\\ud800` escape could be neither printed nor
written back) and hold no NUL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from renderd.errors import BadRecord
from renderd.format.names import valid_name

MAX_STR = 4096
MAX_TIME = 9_999_999_999.0  # seconds since 1970: year 2286
MAX_INT = 2**63 - 1
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def text_ok(value: str, max_len: int = MAX_STR) -> bool:
    return len(value) <= max_len and "\0" not in value and _SURROGATE_RE.search(value) is None


class Fields:
    """The fields of one record (`what` names the kind in messages: "manifest", "host record")."""

    def __init__(self, data: Mapping[str, Any], path: Path | str | None, what: str,
                 error: type[BadRecord] = BadRecord) -> None:
        self.data, self.path, self.what, self.error = data, path, what, error

    def fail(self, sentence: str) -> BadRecord:
        return self.error(f"{self.what}: {sentence}", self.path)

    def missing(self, key: str, default: Any) -> Any:
        """A missing field is its default; without one, the record is refused."""
        if default is ...:
            raise self.fail(f"missing field {key!r}")
        return default

    def absent(self, key: str, default: Any) -> bool:
        """Missing, or null where the default is None (an optional field its writer had no value for)."""
        return key not in self.data or (default is None and self.data[key] is None)

    def integer(self, key: str, default: Any = ..., lo: int = 0, hi: int = MAX_INT) -> Any:
        if self.absent(key, default):
            return self.missing(key, default)
        value = self.data[key]
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise self.fail(f"field {key!r} must be a whole number from {lo} to {hi}")
        return value

    def number(self, key: str, default: Any = ..., lo: float = 0.0, hi: float = MAX_TIME) -> Any:
        """An int or float in [lo, hi], as a float (None stays None when it is the default)."""
        if self.absent(key, default):
            return self.missing(key, default)
        value = self.data[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
            raise self.fail(f"field {key!r} must be a number from {lo:g} to {hi:g}")
        return float(value)

    def optional_number(self, key: str, lo: float = 0.0, hi: float = MAX_TIME) -> float | None:
        if self.data.get(key) is None:
            return None
        value: float = self.number(key, lo=lo, hi=hi)
        return value

    def time(self, key: str, default: Any = ...) -> Any:
        return self.number(key, default, 0.0, MAX_TIME)

    def boolean(self, key: str, default: Any = ...) -> Any:
        if self.absent(key, default):
            return self.missing(key, default)
        value = self.data[key]
        if not isinstance(value, bool):
            raise self.fail(f"field {key!r} must be true or false")
        return value

    def text(self, key: str, default: Any = ..., max_len: int = MAX_STR) -> Any:
        if self.absent(key, default):
            return self.missing(key, default)
        value = self.data[key]
        if not isinstance(value, str) or not text_ok(value, max_len):
            raise self.fail(f"field {key!r} must be text of at most {max_len} characters")
        return value

    def optional_text(self, key: str, max_len: int = MAX_STR) -> str | None:
        if self.data.get(key) is None:
            return None
        value: str = self.text(key, max_len=max_len)
        return value

    def name(self, key: str, default: Any = ...) -> Any:
        if self.absent(key, default):
            return self.missing(key, default)
        value = self.data[key]
        if not isinstance(value, str) or not valid_name(value):
            raise self.fail(f"field {key!r} is not a safe name (letters, digits, '._+-')")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = ...) -> Any:
        if self.absent(key, default):
            return self.missing(key, default)
        value = self.data[key]
        if value not in choices:
            raise self.fail(f"field {key!r} must be one of {', '.join(choices)}")
        return value

    def items(self, key: str, default: Any = ..., max_len: int = 4096) -> Any:
        if self.absent(key, default):
            return self.missing(key, default)
        value = self.data[key]
        if not isinstance(value, list) or len(value) > max_len:
            raise self.fail(f"field {key!r} must be a list of at most {max_len} items")
        return value

    def texts(self, key: str, default: Any = ..., max_len: int = 4096, item_len: int = MAX_STR) -> Any:
        if self.absent(key, default):
            return self.missing(key, default)
        value = self.items(key, ..., max_len)
        if not all(isinstance(v, str) and text_ok(v, item_len) for v in value):
            raise self.fail(f"field {key!r} must be a list of strings")
        return list(value)

    def obj(self, key: str, default: Any = ...) -> Any:
        if self.absent(key, default):
            return self.missing(key, default)
        value = self.data[key]
        if not isinstance(value, dict):
            raise self.fail(f"field {key!r} must be an object")
        return value

    def sub(self, key: str, what: str) -> Fields:
        """The fields of a nested object, for its own typed reads."""
        return Fields(self.obj(key), self.path, f"{self.what} {what}", self.error)

    def version(self, newest: int) -> int:
        """The record's `format`: older ones stay readable; a newer one is refused (upgrade)."""
        fmt: int = self.integer("format", lo=1, hi=MAX_INT)
        if fmt > newest:
            raise self.fail(f"written by a newer renderd (format {fmt}, this one reads up to {newest})")
        return fmt
