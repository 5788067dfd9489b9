"""Stats lines (renderd/format/stats.py): what a daemon writes reads back; anything else is left out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from renderd.format.stats import StatsLine, from_run, read_lines


def _line(**kw: object) -> StatsLine:
    base: dict[str, object] = dict(time=1.7e9, host="ws1", job="j", chunk="j-0001", ok=True, frames=3, seconds=6.0,
                                   suspended=1.0, frame_times=[1.0, 2.0, 2.0], slots=2, run=1)
    base.update(kw)
    return from_run(**base)  # type: ignore[arg-type]


def test_a_written_line_reads_back_with_frame_figures() -> None:
    line = _line()
    (back,) = read_lines(line.to_line())
    assert back == line
    assert (back.frame_seconds, back.fastest, back.slowest, back.suspended) == (5.0, 1.0, 2.0, 1.0)


def test_without_frame_times_the_run_is_spread_over_its_frames_and_a_failure_has_no_frames() -> None:
    plain = _line(frame_times=None)
    assert (plain.frame_seconds, plain.fastest, plain.slowest) == (5.0, 1.667, 1.667)  # rounded to ms
    failed = _line(ok=False, reason="exit code 1: Error: out of memory")
    assert (failed.frames, failed.frame_seconds, failed.fastest) == (0, 0.0, None)


def test_a_bad_line_is_left_out_and_the_good_ones_kept() -> None:
    good = _line().to_line()
    skipped = [0]
    lines = read_lines(good + b"[" * 50_000 + b"\n" + b'{"v": 2}\n' + good.replace(b'"ok":true', b'"ok":1') + good,
                       skipped=skipped)
    assert len(lines) == 2 and skipped == [3]


@given(st.binary(max_size=600))
def test_any_bytes_are_lines_or_left_out(raw: bytes) -> None:
    skipped = [0]
    out = read_lines(raw + b"\n" + _line().to_line(), skipped=skipped)
    assert out[-1] == _line()


@given(st.dictionaries(st.sampled_from(["v", "time", "host", "job", "chunk", "ok", "frames", "seconds", "suspended",
                                        "fastest", "slots", "run", "reason"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))))
def test_any_field_value_is_a_line_or_left_out(fields: dict[str, object]) -> None:
    import json

    raw = json.dumps({**{"v": 1, "time": 1.0, "host": "h", "job": "j", "chunk": "j-1", "ok": True, "frames": 1,
                         "seconds": 1.0}, **fields}).encode()
    for line in read_lines(raw):
        assert line.seconds >= line.suspended >= 0 and line.frames >= 0 and line.slots >= 1
