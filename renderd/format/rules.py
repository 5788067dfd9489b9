"""A job's scheduling rules (version 1): the manifest's `scheduling` field (docs/spool-format.md).

    "scheduling": {"version": 1, "tags": ["gpu"], "hosts": ["ws12", "ws14"] | null,
                   "max_share": "50%" | "3" | null, "after": ["JOB", ...], "block_after": 3,
                   "gpu": true}   # written only when set (render add --gpu)

`render add --tags/--hosts/--max-share/--after/--block-after` writes it; every daemon reads it
to decide whether it may take the job's chunks and which job goes first (renderd/schedule.py).
A manifest without the field (written before it existed, tests/fixtures/spool_v1) has the
default rules: any host, no cap, no dependency, blocked after 3 failures.  The field has its
own version so that a later renderd can add rules; a newer version makes the manifest
unreadable, and a daemon then judges the job's chunks alone, as for any unreadable manifest
(docs/spool-format.md): upgrade every daemon before using rules a newer renderd added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from renderd.format.fields import Fields
from renderd.format.names import valid_name

RULES_VERSION = 1
DEFAULT_BLOCK_AFTER = 3
MAX_BLOCK_AFTER = 1000
MAX_TAGS = 32
MAX_HOSTS = 1024
MAX_AFTER = 64
MAX_TAG = 64


@dataclass(frozen=True)
class Share:
    """`--max-share`: a slot count (`3`) or a percentage of the farm's live slots (`50%`)."""

    value: float
    percent: bool = False

    def cap(self, farm_slots: int) -> int:
        """Chunks of the job that may run at once on a farm of `farm_slots` live slots (at least 1)."""
        if not self.percent:
            return max(1, int(self.value))
        return max(1, math.floor(farm_slots * self.value / 100.0))

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else f"{int(self.value)}"

    @classmethod
    def parse(cls, text: str) -> Share:
        """`50%` or `3`; ValueError with a sentence otherwise."""
        raw = text.strip()
        try:
            if raw.endswith("%"):
                value = float(raw[:-1])
                if not 0 < value <= 100 or not math.isfinite(value):
                    raise ValueError
                return cls(value, percent=True)
            count = int(raw)
            if not 1 <= count <= 100_000:
                raise ValueError
            return cls(float(count))
        except ValueError:
            raise ValueError(f"{text!r} is not a share: a percentage (50%) or a number of slots (3)") from None


def valid_tag(tag: str) -> bool:
    """A tag is a name (letters, digits, '._+-'), so it can be shown and written anywhere."""
    return valid_name(tag, MAX_TAG)


def parse_tags(text: str) -> frozenset[str]:
    """`gpu,lighting` -> {gpu, lighting}; ValueError with a sentence for a bad one."""
    tags = frozenset(t.strip() for t in text.split(",") if t.strip())
    bad = sorted(t for t in tags if not valid_tag(t))
    if bad:
        raise ValueError(f"{bad[0]!r} is not a tag (letters, digits, '._+-', at most {MAX_TAG})")
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return tags


@dataclass(frozen=True)
class JobRules:
    """A job's scheduling rules, as its owner wrote them in the manifest."""

    tags: frozenset[str] = frozenset()
    hosts: frozenset[str] | None = None  # only these hosts (None: any)
    max_share: Share | None = None
    after: tuple[str, ...] = ()
    block_after: int = DEFAULT_BLOCK_AFTER
    gpu: bool = False  # `render add --gpu`: only daemons rendering on a GPU (`renderd --device`)

    @property
    def is_default(self) -> bool:
        return self == JobRules()

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": RULES_VERSION,
            "tags": sorted(self.tags),
            "hosts": None if self.hosts is None else sorted(self.hosts),
            "max_share": None if self.max_share is None else str(self.max_share),
            "after": list(self.after),
            "block_after": self.block_after,
        } | ({"gpu": True} if self.gpu else {})

    @classmethod
    def from_fields(cls, f: Fields) -> JobRules:
        version = f.integer("version", lo=1)
        if version > RULES_VERSION:
            raise f.fail(f"has rules of a newer renderd (version {version}, this one reads up to {RULES_VERSION})")
        tags = f.texts("tags", [], MAX_TAGS, MAX_TAG)
        if not all(valid_tag(t) for t in tags):
            raise f.fail("field 'tags' must be a list of names")
        hosts = None if f.absent("hosts", None) else f.texts("hosts", max_len=MAX_HOSTS, item_len=64)
        if hosts is not None and not (hosts and all(valid_name(h, 64) for h in hosts)):
            raise f.fail("field 'hosts' must be null or a list of host names")
        after = f.texts("after", [], MAX_AFTER, 160)
        if not all(valid_name(j) for j in after) or len(set(after)) != len(after):
            raise f.fail("field 'after' must be a list of distinct job ids")
        share_text = f.optional_text("max_share", 16)
        try:
            share = None if share_text is None else Share.parse(share_text)
        except ValueError as err:
            raise f.fail(f"field 'max_share': {err}") from None
        return cls(tags=frozenset(tags), hosts=None if hosts is None else frozenset(hosts), max_share=share,
                   after=tuple(after), block_after=f.integer("block_after", DEFAULT_BLOCK_AFTER, 1, MAX_BLOCK_AFTER),
                   gpu=f.boolean("gpu", False))
