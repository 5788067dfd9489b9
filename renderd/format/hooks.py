"""A job's hooks (format 1): commands run around its chunks (docs/hooks.md).

    pre     on the rendering host before each chunk (non-zero: the attempt fails)
    post    after each chunk that succeeded (non-zero: the attempt fails)
    end     once per job, when every chunk has succeeded (by the daemon that recorded the last one)
    error   once per chunk that goes to failed/ (by the daemon that moved it there)

Each hook is an argv list (split shell-like at `render add`, never run through a shell); the
words may hold placeholders, replaced by the daemon with the chunk's values just before it runs
the hook.  Only the names below are placeholders: `{x.attr}` or `{x[0]}` are left as they are
(no format-string mini-language on spool text).  The manifest carries them (the owner's word);
a daemon runs hooks only with --allow-hooks or --allow-commands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KINDS = ("pre", "post", "end", "error")
PLACEHOLDERS = ("job", "chunk", "file", "scene", "start", "end", "frames", "frames_dir", "output", "host")
MAX_WORDS = 64
MAX_WORD = 4096
_PLACEHOLDER_RE = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


class HookError(ValueError):
    """A hook that cannot be stored: one sentence."""


@dataclass(frozen=True)
class Hooks:
    pre: tuple[str, ...] = ()
    post: tuple[str, ...] = ()
    end: tuple[str, ...] = ()
    error: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.pre or self.post or self.end or self.error)

    def get(self, kind: str) -> tuple[str, ...]:
        return tuple(getattr(self, kind))

    def merged_over(self, defaults: Hooks) -> Hooks:
        """The job's own hooks, with the spool-wide defaults (config [hooks]) where it has none."""
        return Hooks(*(self.get(k) or defaults.get(k) for k in KINDS))

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(self.get(k)) for k in KINDS if self.get(k)}

    @classmethod
    def from_value(cls, value: Any) -> Hooks:
        """From the manifest's `hooks` object; HookError says why it cannot be used."""
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise HookError("hooks must be an object")
        unknown = set(value) - set(KINDS)
        if unknown:
            raise HookError(f"unknown hook {sorted(unknown)[0][:40]!r} (hooks are {', '.join(KINDS)})")
        return cls(*(check_argv(value.get(k, []), k) for k in KINDS))


def check_argv(value: Any, kind: str) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_WORDS:
        raise HookError(f"the {kind} hook must be a list of at most {MAX_WORDS} words")
    for word in value:
        if not isinstance(word, str) or "\0" in word or len(word) > MAX_WORD:
            raise HookError(f"the {kind} hook holds a word that is not a short text")
    if value and not value[0]:
        raise HookError(f"the {kind} hook has no program")
    return tuple(value)


def expand(argv: tuple[str, ...], values: Mapping[str, str]) -> list[str]:
    """Each placeholder replaced by its value (one word stays one word: no splitting, no shell)."""
    return [_PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), word) for word in argv]
