"""Blender's output lines of 3.x, 4.x and 5.x read into progress (fixtures: tests/fixtures/blender_output/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderd.blender_output import BlenderProgress, mebibytes, parse_log, seconds

FIXTURES = Path(__file__).parent.parent / "fixtures" / "blender_output"


def test_captured_3_4_cycles_run_counts_three_saved_frames_and_their_times() -> None:
    p = parse_log(FIXTURES / "blender-3.4-cycles.log", frames_total=3)
    assert p.version == "3.4.1"
    assert p.saved == [f"/tmp/bcap/out/main_000{i}.png" for i in (1, 2, 3)]
    assert p.frames_done == [1, 2, 3]
    assert p.frame_times == [0.17, 0.0, 0.0]
    assert p.progress == 1.0
    assert p.quit
    assert p.peak == pytest.approx(10.83)


def test_captured_3_4_mid_frame_progress_is_frames_done_plus_fraction_of_samples() -> None:
    lines = (FIXTURES / "blender-3.4-cycles-64-samples.log").read_text().splitlines()
    p = BlenderProgress(frames_total=2)
    seen = []
    for line in lines:
        p.feed(line)
        seen.append((p.frame, len(p.frames_done), p.sample, p.progress))
    # after "Fra:2 ... Sample 1/64": one frame saved, 1/64 of the second
    assert (2, 1, 1, pytest.approx((1 + 1 / 64) / 2)) in seen
    assert p.remaining is None  # reset once the frame was saved
    assert [round(t, 2) for t in p.frame_times] == [0.38, 0.24]
    progress = [s[3] for s in seen]
    assert progress == sorted(progress), "progress never goes backwards"
    assert progress[-1] == 1.0


def test_captured_3_4_remaining_and_memory_from_a_status_line() -> None:
    p = BlenderProgress(frames_total=2)
    p.feed("Fra:1 Mem:10.57M (Peak 10.83M) | Time:00:00.04 | Remaining:00:00.17 | Mem:1.42M, Peak:1.42M | "
           "Scene, ViewLayer | Sample 1/64")
    assert (p.frame, p.mem, p.peak, p.elapsed, p.remaining, p.sample, p.samples) == (
        1, 10.57, 10.83, 0.04, 0.17, 1, 64)
    assert p.summary() == {"progress": round(1 / 64 / 2, 4), "frames_done": 0, "frames_total": 2, "frame": 1,
                           "sample": 1, "samples": 64, "mem": 10.57, "peak": 10.83, "remaining": 0.17}


def test_captured_3_4_workbench_has_no_status_lines_but_saved_lines_give_progress() -> None:
    p = parse_log(FIXTURES / "blender-3.4-workbench.log", frames_total=2)
    assert p.frame is None
    assert p.frames_done == [1, 2]
    assert p.frame_times == [1.33, 0.0]
    assert p.progress == 1.0


def test_4_5_time_line_without_leading_space_and_no_quit_line() -> None:
    p = parse_log(FIXTURES / "blender-4.5-cycles.log", frames_total=3)
    assert p.frames_done == [1, 2]
    assert p.frame_times == [0.59, 0.59]
    assert not p.quit
    assert p.progress == pytest.approx(2 / 3)


def test_5_0_log_format_progress_keys_on_saved_with_times_from_stamps() -> None:
    p = parse_log(FIXTURES / "blender-5.0-cycles.log", frames_total=4)
    assert p.frame is None
    assert p.saved == ["/path/main_0001.png", "/path/main_0002.png", "/path/main_0003.png"]
    assert p.frames_done == [1, 2, 3]
    assert p.frame_times == [0.627, 0.627, 0.627]
    assert p.progress == 0.75


def test_two_files_saved_for_one_frame_count_as_one_frame() -> None:
    p = BlenderProgress(frames_total=2)
    p.feed("02:31.805  render           | Saved: '/Test/a/Render0_0001.png'")
    p.feed("02:31.819  render           | Saved: '/Test/a/Render0_0001.jpg'")
    assert p.frames_done == [1] and p.progress == 0.5


def test_units() -> None:
    assert seconds("01:02:03.5") == 3723.5 and seconds("00:00.59") == 0.59
    assert mebibytes("512K") == 0.5 and mebibytes("1.5G") == 1536.0 and mebibytes("9.48M") == 9.48


@given(st.lists(st.text(max_size=200), max_size=50), st.integers(1, 1000))
def test_any_text_never_breaks_the_parser_and_progress_stays_in_0_1(lines: list[str], total: int) -> None:
    p = BlenderProgress(frames_total=total)
    for line in lines:
        p.feed(line)
    assert 0.0 <= p.progress <= 1.0
    assert p.summary()["frames_total"] == total
