"""Frame ranges, chunks of rendered frames, and placeholder expansion."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.daemons import render

from render_frontend.chunking import expand, parse_frames, split
from renderd.errors import UsageError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1-200", (1, 200, 1)),
        ("1-25:2", (1, 25, 2)),
        ("7", (7, 7, 1)),
        (" 10 - 37 : 3 ", (10, 37, 3)),
        ("-5-5", (-5, 5, 1)),
        ("-10--2:4", (-10, -2, 4)),
    ],
)
def test_frame_ranges_parse(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_frames(text) == expected


def test_chunk_counts_rendered_frames_and_ends_on_the_last_rendered_one() -> None:
    assert split(1, 25, 2, 5) == [(1, 9), (11, 19), (21, 25)]
    assert split(10, 1000, 3, 10)[0] == (10, 37)
    assert split(1, 200, 1, 10)[-1] == (191, 200) and len(split(1, 200, 1, 10)) == 20
    assert split(1, 10, 4, 100) == [(1, 9)]  # 10 is not rendered with step 4
    assert split(5, 5, 1, 10) == [(5, 5)]


@pytest.mark.parametrize(
    ("start", "end", "step", "size"), [(1, 25, 2, 5), (-7, 93, 3, 4), (0, 0, 1, 1), (1, 100, 7, 3)]
)
def test_chunks_cover_every_frame_once_in_order(start: int, end: int, step: int, size: int) -> None:
    chunks = split(start, end, step, size)
    frames = [f for s, e in chunks for f in range(s, e + 1, step)]
    assert frames == list(range(start, end + 1, step))
    assert all(len(range(s, e + 1, step)) <= size for s, e in chunks)


def test_placeholders_are_expanded_in_every_argument() -> None:
    argv = ["convert", "in_{start}.png", "out_{end}.png", "--step={step}", "--frames", "{frames}", "{start}-{end}"]
    assert expand(argv, 10, 16, 3) == [
        "convert",
        "in_10.png",
        "out_16.png",
        "--step=3",
        "--frames",
        "10,13,16",
        "10-16",
    ]
    assert expand(["{unknown}", "{{start}}", "x"], 1, 1, 1) == ["{unknown}", "{1}", "x"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("abc", "START-END"),
        ("", "START-END"),
        ("1-", "START-END"),
        ("1-10:x", "START-END"),
        ("5-1", "end comes before the start"),
        ("1-10:0", "at least 1"),
        ("1-100000000000", "too many frames"),
    ],
)
def test_bad_ranges_are_usage_errors_that_say_why(text: str, words: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_frames(text)
    assert words in str(err.value) and repr(text) in str(err.value)


def test_a_chunk_of_no_frames_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="at least 1 frame"):
        split(1, 10, 1, 0)


def test_render_add_with_a_bad_range_prints_one_line_and_queues_nothing(tmp_path: Path) -> None:
    out = render(tmp_path, "add", "--frames", "5-1", "--", "true", check=False)
    assert out.returncode != 0
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("Error: bad frame list '5-1': ") and "the end comes before the start" in line
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert list(tmp_path.iterdir()) == []  # a bad range is refused before the spool is touched
