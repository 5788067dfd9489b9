"""retry --missing narrows a chunk to its missing frames: the narrowest range within the chunk."""

from __future__ import annotations

from render_frontend.jobactions import frame_span


def test_the_narrowest_range_that_holds_the_missing_frames() -> None:
    assert frame_span([]) is None
    assert frame_span([4]) == (4, 4, 1)
    assert frame_span([4, 7]) == (4, 7, 3)
    assert frame_span([3, 4, 9]) == (3, 9, 1)
    assert frame_span([3, 5, 9]) == (3, 9, 2)  # stays within a chunk of step 2
    assert frame_span([9, 3, 3]) == (3, 9, 6)
