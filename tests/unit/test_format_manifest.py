"""The manifest reader: every field checked, a hostile manifest is one BadRecord, and no job too
large to be read back can be written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers.format_cases import DELETE, V1, changed, hostile_values, refuses_or_reads
from hypothesis import given
from hypothesis import strategies as st

from renderd.errors import BadRecord
from renderd.format.manifest import MAX_CHUNKS, ChunkEntry, Manifest

PATH = V1 / "jobs" / "ok-09fc27b7" / "manifest.json"
FIELDS = ["job", "name", "kind", "owner", "uid", "priority", "created", "submitted_ms", "cwd", "timeout",
          "max_attempts", "frames", "chunks", "blend", "blender_version", "format"]


@given(st.binary(max_size=3000))
def test_any_bytes_are_a_manifest_or_our_error(raw: bytes) -> None:
    refuses_or_reads(Manifest.from_bytes, raw)


@given(st.sampled_from(FIELDS), hostile_values)
def test_any_value_in_any_field_is_a_manifest_or_our_error(key: str, value: Any) -> None:
    refuses_or_reads(Manifest.from_bytes, changed(PATH, **{key: value}))


@pytest.mark.parametrize(("over", "words"), [
    ({"created": "yesterday"}, "'created' must be a number"),
    ({"created": 1e300}, "'created' must be a number"),
    ({"chunks": "x"}, "'chunks' must be a list"),
    ({"chunks": []}, "lists no chunks"),
    ({"chunks": [1, None]}, "list of objects"),
    ({"chunks": [{"chunk": 5}]}, "'chunk' is not a safe name"),
    ({"chunks": [{"chunk": "other-0001", "start": 1, "end": 1, "step": 1}]}, "is not of job"),
    ({"chunks": [{"chunk": "ok-09fc27b7-0001", "start": 3, "end": 1, "step": 1}]}, "bad frame range"),
    ({"kind": ["a"]}, "'kind' must be one of"),
    ({"priority": "hi"}, "'priority' must be a whole number"),
    ({"priority": True}, "'priority' must be a whole number"),
    ({"uid": 10**30}, "'uid'"),
    ({"frames": "many"}, "'frames'"),
    ({"name": 7}, "'name' must be text"),
    ({"name": "\ud800"}, "'name' must be text"),
    ({"job": "../../etc"}, "'job' is not a safe name"),
    ({"job": "other-1"}, "lies in the folder of"),
    ({"format": 2}, "newer renderd"),
    ({"format": DELETE}, "missing field 'format'"),
    ({"kind": "blender"}, "needs its 'blend' fields"),
    ({"max_attempts": 10**9}, "'max_attempts'"),
])
def test_hostile_manifests_are_refused_with_a_reason(over: dict[str, Any], words: str) -> None:
    with pytest.raises(BadRecord, match=words) as err:
        Manifest.from_bytes(changed(PATH, **over), PATH)
    assert err.value.path == PATH


def test_deeply_nested_manifest_is_refused_before_the_parser() -> None:
    with pytest.raises(BadRecord, match="nested deeper"):
        Manifest.from_bytes(b'{"format": 1, "chunks": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", PATH)


def big(chunks: int, job: str = "ok-09fc27b7") -> Manifest:
    base = Manifest.from_bytes(PATH.read_bytes())
    entries = tuple(ChunkEntry(f"{job}-{i:06d}", 10 * i, 10 * i + 9, 1) for i in range(1, chunks + 1))
    return Manifest(**{**base.__dict__, "chunks": entries, "frames": 10 * chunks})


def test_the_largest_job_writes_a_manifest_that_reads_back() -> None:
    raw = big(MAX_CHUNKS).to_bytes()
    assert len(Manifest.from_bytes(raw).chunks) == MAX_CHUNKS


def test_a_job_over_the_chunk_limit_is_not_written() -> None:
    with pytest.raises(BadRecord, match=f"at most {MAX_CHUNKS}"):
        big(MAX_CHUNKS + 1).to_bytes()


def test_priority_change_round_trips() -> None:
    manifest = Manifest.from_bytes(PATH.read_bytes()).with_priority(900)
    assert Manifest.from_bytes(manifest.to_bytes()).priority == 900
    assert json.loads(manifest.to_bytes())["argv"] == ["true"]
