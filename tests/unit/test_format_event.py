"""Event lines: flat, bounded, of a known type; anything else is refused (the reader skips it)."""

from __future__ import annotations

import pytest
from helpers.format_cases import refuses_or_reads
from hypothesis import given
from hypothesis import strategies as st

from renderd.errors import BadRecord
from renderd.format.event import Event

GOOD = b'{"v":1,"type":"event","event":"chunk-finished","time":5.5,"host":"fx1","chunk":"j-0001","job":"j","frames":2}'


@given(st.binary(max_size=2000))
def test_any_bytes_are_an_event_or_our_error(raw: bytes) -> None:
    refuses_or_reads(Event.from_line, raw)


def test_a_good_line_reads() -> None:
    event = Event.from_line(GOOD)
    assert (event.event, event.time, event.host, event.chunk, event.job, event.fields) == (
        "chunk-finished", 5.5, "fx1", "j-0001", "j", {"frames": 2})


@pytest.mark.parametrize(("line", "words"), [
    (b"[" * 100_000, "nested deeper"),
    (GOOD.replace(b'"frames":2', b'"frames":{"a":1}'), "must be a short value"),
    (GOOD.replace(b'"v":1', b'"v":7'), "newer"),
    (GOOD.replace(b'"event","event"', b'"request","event"'), "not an event"),
    (GOOD.replace(b'"host":"fx1"', b'"host":"../x"'), "'host' is not a safe name"),
    (GOOD.replace(b'"time":5.5', b'"time":"now"'), "'time'"),
    (GOOD.replace(b'"frames":2', b'"frames":[[1]]'), "nested deeper"),
])
def test_hostile_lines_are_refused(line: bytes, words: str) -> None:
    with pytest.raises(BadRecord, match=words):
        Event.from_line(line, "events/x.jsonl")


def test_the_writer_writes_only_what_the_reader_reads() -> None:
    raw = Event.line({"event": "chunk-failed", "time": 1.5, "host": "fx1", "chunk": "j-0001", "job": "j",
                      "reason": "exit code 1", "state": "queued"})
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert Event.from_line(raw.rstrip(b"\n")).fields == {"reason": "exit code 1", "state": "queued"}
    with pytest.raises(BadRecord, match="nested deeper than 2 levels"):
        Event.line({"event": "odd", "time": 1.0, "host": "fx1", "detail": {"nested": {"x": 1}}})
