"""A pilot's exit rules (renderd/pilot.py), on a hand-driven clock: idle exit, the time limit, naming."""

from __future__ import annotations

import pytest

from renderd.pilot import ExitRule, NotInBatchJob, parse_time_left, slurm_name


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_workstation_daemon_never_leaves_on_its_own() -> None:
    clock = Clock()
    rule = ExitRule(None, None, 10.0, clock)
    clock.now += 10**6
    assert not rule.active and rule.may_claim() and rule.leave_reason(0) is None


def test_an_idle_pilot_leaves_after_idle_exit_seconds_without_work() -> None:
    clock = Clock()
    rule = ExitRule(60.0, None, 10.0, clock)
    clock.now += 59
    assert rule.leave_reason(0) is None
    rule.saw_work()  # a chunk it may run was queued: the idle time starts again
    clock.now += 59
    assert rule.leave_reason(0) is None
    clock.now += 1
    assert "idle-exit" in (rule.leave_reason(0) or "")
    assert rule.leave_reason(1) is None  # never while a chunk runs


def test_near_the_time_limit_a_pilot_stops_claiming_then_gives_back() -> None:
    clock = Clock()
    rule = ExitRule(None, clock.now + 600, 10.0, clock)
    assert rule.may_claim()
    rule.ran(200.0)  # the longest chunk so far: the next must fit before the give-back margin
    clock.now += 600 - (10 + 30) - 1.25 * 200 - 1
    assert rule.may_claim()
    clock.now += 2
    assert not rule.may_claim() and not rule.must_give_back()
    assert rule.leave_reason(1) is None  # the running chunk may still finish
    assert "no time left" in (rule.leave_reason(0) or "")
    clock.now = 1000 + 600 - 40
    assert rule.must_give_back() and "time limit" in (rule.leave_reason(1) or "")


def test_next_check_wakes_the_loop_in_time() -> None:
    clock = Clock()
    rule = ExitRule(60.0, clock.now + 600, 10.0, clock)
    assert rule.next_check() == pytest.approx(clock.now + 60)
    rule.saw_work()
    clock.now += 590
    rule.saw_work()
    assert rule.next_check() == pytest.approx(1000 + 600 - 40)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("4:59", 299), ("1:00:00", 3600), ("2-03:04:05", 2 * 86400 + 3 * 3600 + 4 * 60 + 5), ("0:05", 5),
     ("UNLIMITED", None), ("NOT_SET", None), ("INVALID", None), ("", None)],
)
def test_slurm_time_left_is_parsed(text: str, seconds: float | None) -> None:
    assert parse_time_left(text) == seconds


def test_a_pilot_is_named_after_its_node_and_array_task() -> None:
    env = {"SLURM_JOB_ID": "17", "SLURMD_NODENAME": "node7.lab", "SLURM_ARRAY_JOB_ID": "15",
           "SLURM_ARRAY_TASK_ID": "2"}
    assert slurm_name(env) == "node7-15_2"
    assert slurm_name({"SLURM_JOB_ID": "9", "SLURMD_NODENAME": "n$1"}) == "n-1-9"
    with pytest.raises(NotInBatchJob):
        slurm_name({})
