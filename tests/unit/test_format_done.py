"""Done and cancelled records: checked like an info file, their kept `info` as strictly."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.format_cases import V1, changed, hostile_values, refuses_or_reads
from hypothesis import given
from hypothesis import strategies as st

from renderd.errors import BadRecord
from renderd.format.done import CancelledRecord, DoneRecord

DONE = V1 / "jobs" / "ok-09fc27b7" / "done" / "ok-09fc27b7-0001.json"
CANCELLED = V1 / "jobs" / "gone-2752618e" / "cancelled" / "gone-2752618e-0001.json"


@given(st.binary(max_size=3000))
def test_any_bytes_are_a_record_or_our_error(raw: bytes) -> None:
    refuses_or_reads(DoneRecord.from_bytes, raw)
    refuses_or_reads(CancelledRecord.from_bytes, raw)


@given(st.sampled_from(["chunk", "job", "host", "run", "frames", "started", "seconds", "saved", "frame_times",
                        "history", "info", "attempts", "requeues"]), hostile_values)
def test_any_value_in_any_field_is_a_record_or_our_error(key: str, value: Any) -> None:
    refuses_or_reads(DoneRecord.from_bytes, changed(DONE, **{key: value}))


@pytest.mark.parametrize(("over", "words"), [
    ({"frames": "many"}, "'frames'"),
    ({"frames": True}, "'frames'"),
    ({"started": "noon"}, "'started'"),
    ({"frame_times": [1, "x"]}, "list of seconds"),
    ({"saved": [1]}, "'saved' must be a list of strings"),
    ({"requeues": int("7" * 30)}, "'requeues'"),
    ({"info": {"format": 1}}, "its info: missing field"),
    ({"info": []}, "'info' must be an object"),
    ({"chunk": "ok-09fc27b7-0002"}, "not the one its file name says"),
    ({"job": "other"}, "is not of job"),
])
def test_hostile_done_records_are_refused_with_a_reason(over: dict[str, Any], words: str) -> None:
    with pytest.raises(BadRecord, match=words) as err:
        DoneRecord.from_bytes(changed(DONE, **over), DONE)
    assert err.value.path == DONE


def test_a_cancelled_record_whose_info_is_of_another_chunk_is_refused() -> None:
    other = changed(DONE)  # a done record's info is of ok-09fc27b7-0001
    import json
    info = json.loads(other)["info"]
    with pytest.raises(BadRecord, match="its info holds chunk"):
        CancelledRecord.from_bytes(changed(CANCELLED, info=info | {"chunk": "gone-2752618e-0002",
                                                                   "job": "gone-2752618e"}), CANCELLED)
