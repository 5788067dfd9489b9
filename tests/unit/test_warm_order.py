"""The tie-break that keeps Blender warm (schedule.order): within one priority a job whose .blend a
warm Blender here has loaded comes first; priority still wins; the rest keep fair share."""

from __future__ import annotations

from renderd.schedule import HostView, JobView, order, pick


def test_a_loaded_file_wins_within_its_priority_only() -> None:
    a = JobView("a", 50, 1, running=0)
    warm = JobView("w", 50, 2, running=3, warm=True)
    urgent = JobView("u", 90, 3, running=5)
    assert [j.job for j in order([a, warm, urgent])] == ["u", "w", "a"]
    assert [j.job for j in order([a, JobView("w", 50, 2, running=3)])] == ["a", "w"]  # cold: fair share
    assert [j.job for j in pick([a, warm], HostView("h"), 4)] == ["w", "a"]
