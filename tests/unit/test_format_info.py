"""The info file's reader (format/info.py): any value in any field of a real format-1 info file is
a ChunkInfo or a BadInfoFile, and the counters have upper bounds.  (tests/unit/test_spool_format.py
holds the older corpus: round trips, hostile bytes, names.)"""

from __future__ import annotations

from typing import Any

import pytest
from helpers.format_cases import V1, changed, hostile_values, refuses_or_reads
from hypothesis import given
from hypothesis import strategies as st

from renderd.errors import BadInfoFile
from renderd.format.info import COUNTER_LIMITS, ChunkInfo

FAILED = V1 / "failed" / "bad-bfa2ce20-0001.info"
BLENDER = next((V1 / "queue").glob("*/shot-b3186473-0001.info"))
FIELDS = ["format", "job", "chunk", "index", "kind", "argv", "start", "end", "step", "cwd", "env", "priority",
          "owner", "uid", "created", "timeout", "attempts", "max_attempts", "requeues", "failed_hosts", "history",
          "blender"]


def read(raw: bytes) -> ChunkInfo:
    return ChunkInfo.from_bytes(raw)


@given(st.sampled_from(FIELDS), hostile_values, st.sampled_from([FAILED, BLENDER]))
def test_any_value_in_any_field_is_a_chunk_or_our_error(key: str, value: Any, path: Any) -> None:
    refuses_or_reads(read, changed(path, **{key: value}))


@pytest.mark.parametrize("key", sorted(COUNTER_LIMITS))
def test_each_counter_has_an_upper_bound(key: str) -> None:
    limit = COUNTER_LIMITS[key]
    assert getattr(read(changed(FAILED, **{key: limit})), key) == limit
    with pytest.raises(BadInfoFile, match=f"'{key}' is {limit + 1}, outside 0-{limit}"):
        read(changed(FAILED, **{key: limit + 1}))


def test_what_reads_writes_back_the_same() -> None:
    for path in (FAILED, BLENDER):
        info = read(path.read_bytes())
        assert read(info.to_bytes()) == info


@pytest.mark.parametrize("entry", [[1], {"time": "noon", "event": "failed"}, {"event": ["x"]},
                                   {"time": 1.0, "event": "failed", "detail": {"nested": 1}},
                                   {f"k{i}": i for i in range(17)}, {"event": "failed", "host": 5}])
def test_history_entries_are_small_flat_objects(entry: Any) -> None:
    with pytest.raises(BadInfoFile, match="'history' must be a list of flat objects"):
        read(changed(FAILED, history=[entry]))


def test_history_times_of_an_event_and_host() -> None:
    info = read(FAILED.read_bytes())
    assert info.history_times("failed", "fx1") == [1796114135.015]
    assert info.history_times("failed", "other") == [] and info.history_times("queued") == [1796114134.435]
