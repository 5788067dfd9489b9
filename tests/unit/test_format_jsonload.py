"""Bounded JSON: any bytes give a value or a BadRecord with a sentence, never another exception;
the nesting depth is measured before the recursive parser sees the bytes."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderd.errors import BadRecord
from renderd.format import jsonload


@given(st.binary(max_size=2000))
def test_any_bytes_give_a_value_or_our_error(raw: bytes) -> None:
    try:
        jsonload.load(raw, "x.json")
    except BadRecord as err:
        assert err.path is not None and "\n" not in str(err)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@given(json_values)
def test_what_renderd_writes_reads_back(value: object) -> None:
    assert jsonload.load(jsonload.dumps(value), depth=64) == value


@given(st.integers(0, 40), st.sampled_from(["[", "{\"k\":"]))
def test_depth_is_counted_exactly(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = (opener * depth + "1" + closer * depth) if depth else "1"
    assert jsonload.nesting_depth_ok(text.encode(), depth)
    assert not jsonload.nesting_depth_ok(text.encode(), depth - 1) or depth == 0


def test_brackets_inside_strings_do_not_count() -> None:
    raw = json.dumps({"name": "[" * 1000 + '\\"{' * 50}).encode()
    assert jsonload.load(raw, depth=1) == {"name": "[" * 1000 + '\\"{' * 50}


DEEP = [b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000]


@pytest.mark.parametrize("raw", DEEP)
def test_deep_nesting_is_refused_before_the_parser_and_fast(raw: bytes) -> None:
    began = time.process_time()
    with pytest.raises(BadRecord, match="nested deeper than 16 levels"):
        jsonload.load(raw, "hosts/x.json")
    assert time.process_time() - began < 0.5


def test_a_flat_list_of_a_million_items_is_not_too_deep() -> None:
    raw = json.dumps([[i, i] for i in range(100_000)]).encode()
    began = time.process_time()
    assert len(jsonload.load(raw, limit=16 * 2**20)) == 100_000
    assert time.process_time() - began < 2


@pytest.mark.parametrize(("raw", "words"), [
    (b"NaN", "not a JSON number"), (b"[Infinity]", "not a JSON number"), (b"1e400", "out of range"),
    (b"7" * 4300, "too many digits"), (b"7" * 33, "too many digits"), (b"\xff", "not JSON"), (b"x" * 11, "larger than"),
])
def test_numbers_and_sizes_out_of_bounds_are_refused(raw: bytes, words: str) -> None:
    with pytest.raises(BadRecord, match=words):
        jsonload.load(raw, "m.json", limit=10 if words == "larger than" else jsonload.MAX_BYTES)


def test_load_object_refuses_other_tops() -> None:
    with pytest.raises(BadRecord, match="not a JSON object"):
        jsonload.load_object(b"[1]", "m.json", what="manifest")


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


@given(json_values)
def test_measured_depth_is_the_real_depth(value: object) -> None:
    raw, depth = jsonload.dumps(value), depth_of(value)
    assert jsonload.nesting_depth_ok(raw, depth)
    assert depth == 0 or not jsonload.nesting_depth_ok(raw, depth - 1)
