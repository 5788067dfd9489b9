"""Frame lists in the OpenJD syntax: what `render add --frames`, `status --frames` and the web API share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderd.framelist import FrameListError, FrameRun, format_frames, frames_of, parse_frame_list, split_runs


@pytest.mark.parametrize(
    ("text", "frames"),
    [
        ("7", [7]),
        ("1-5", [1, 2, 3, 4, 5]),
        ("1-10:4", [1, 5, 9]),
        ("1-3,5,7-11:2", [1, 2, 3, 5, 7, 9, 11]),
        (" 1 - 3 , 10 ", [1, 2, 3, 10]),
        ("-3--1", [-3, -2, -1]),
        ("10-1:-3", [1, 4, 7, 10]),
        ("5-1:-1", [1, 2, 3, 4, 5]),
    ],
)
def test_openjd_frame_lists_parse(text: str, frames: list[int]) -> None:
    assert sorted(frames_of(parse_frame_list(text))) == frames


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("1-", "not a frame"),
        ("a-b", "not a frame"),
        ("1-5:0", "step"),
        ("5-1", "the end comes before the start"),
        ("1-5:-1", "counts down"),
        ("1-10,5", "frame 5 is named twice"),
        ("1-20:2,11-15:4", "named twice"),
        ("1-100000000", "more than"),
    ],
)
def test_bad_frame_lists_are_one_sentence(text: str, says: str) -> None:
    with pytest.raises(FrameListError, match=says):
        parse_frame_list(text)


def test_runs_that_interleave_without_meeting_are_fine_and_cheap() -> None:
    runs = parse_frame_list("1-9999999:2,2-10000000:2")
    assert sum(len(r) for r in runs) == 10_000_000


def test_chunks_never_span_a_gap() -> None:
    chunks = split_runs(parse_frame_list("1-10,20-30"), 4)
    assert [c.text() for c in chunks] == ["1-4", "5-8", "9-10", "20-23", "24-27", "28-30"]
    assert split_runs([FrameRun(7, 19, 2)], 3) == [FrameRun(7, 11, 2), FrameRun(13, 17, 2), FrameRun(19, 19, 2)]


def test_missing_frames_print_short() -> None:
    assert format_frames([4]) == "4"
    assert format_frames([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == "1-10"
    assert format_frames([3, 4, 10]) == "3,4,10"
    assert format_frames([]) == ""


@given(st.sets(st.integers(-50, 200), max_size=60))
def test_format_reads_back_to_the_same_frames(frames: set[int]) -> None:
    text = format_frames(frames)
    assert (sorted(frames_of(parse_frame_list(text))) if text else []) == sorted(frames)
