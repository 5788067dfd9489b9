"""The idle policy's decisions (renderd/policy.py `decide`) and the schedule's grammar."""

from __future__ import annotations

import datetime as dt

import pytest

from renderd.idle import Activity, MemoryState
from renderd.policy import GIB, Observation, PolicyConfig, RunState, Schedule, decide

NOW = 1_700_000_000.0
MONDAY_NOON = dt.datetime(2026, 11, 23, 12, 0)
PLENTY = MemoryState(free=16 * GIB, swap_total=0, swapping=False)


def obs(
    last_active: float | None = None,
    memory: MemoryState = PLENTY,
    control: str | None = None,
    when: dt.datetime = MONDAY_NOON,
    last_swap: float | None = None,
) -> Observation:
    return Observation(NOW, Activity(last_active, "path" if last_active else ""), memory, last_swap, control, when)


CFG = PolicyConfig(when="idle", idle_after=300, resume_after=120, max_suspend=1800, min_free_mem=2 * GIB)


def test_starts_only_after_the_owner_was_idle_long_enough() -> None:
    assert not decide(CFG, obs(NOW - 299), []).may_start
    assert "owner active 299 s ago (path)" in decide(CFG, obs(NOW - 299), []).why
    assert decide(CFG, obs(NOW - 300), []).may_start
    assert decide(CFG, obs(None), []).may_start  # no signal saw anyone: a headless box is idle


def test_render_box_modes() -> None:
    always = PolicyConfig(when="always")
    assert decide(always, obs(NOW), []).may_start
    running = [RunState("r", running_since=NOW - 10)]
    assert decide(always, obs(NOW), running).suspend == {}  # the owner's activity does not count
    assert decide(PolicyConfig(when="idle", idle_after=0), obs(NOW), []).may_start
    assert decide(PolicyConfig(when="never"), obs(None), []).why == "--when never"


def test_activity_after_the_start_suspends_activity_before_does_not() -> None:
    run = RunState("r", running_since=NOW - 10)
    assert decide(CFG, obs(NOW - 1), [run]).suspend == {"r": "owner"}
    assert decide(CFG, obs(NOW - 11), [run]).suspend == {}


def test_resume_after_quiet_and_give_back_after_max_suspend() -> None:
    suspended = RunState("r", running_since=NOW - 600, suspended_at=NOW - 200, reason="owner")
    assert decide(CFG, obs(NOW - 119), [suspended]).resume == []
    assert decide(CFG, obs(NOW - 120), [suspended]).resume == ["r"]
    assert not decide(CFG, obs(NOW - 120), [suspended]).may_start  # nothing new while one is suspended
    old = RunState("r", running_since=NOW - 4000, suspended_at=NOW - 1800, reason="owner")
    decision = decide(CFG, obs(NOW - 1), [old])
    assert decision.preempt == ["r"] and decision.resume == []


def test_memory_floor_blocks_starts() -> None:
    low = MemoryState(free=GIB, swap_total=8 * GIB, swapping=False)
    why = decide(CFG, obs(None, memory=low), []).why
    assert why == "only 1.0 GiB free memory (needs 2.0)"
    assert decide(PolicyConfig(when="always", min_free_mem=0), obs(None, memory=low), []).may_start


def test_swapping_suspends_the_newest_chunk_and_waits_for_quiet_to_resume() -> None:
    swapping = MemoryState(free=3 * GIB, swap_total=8 * GIB, swapping=True)
    old, new = RunState("old", NOW - 500), RunState("new", NOW - 50)
    decision = decide(CFG, obs(None, memory=swapping, last_swap=NOW), [old, new])
    assert decision.suspend == {"new": "swap"} and not decision.may_start
    held = RunState("new", NOW - 500, suspended_at=NOW - 300, reason="swap")
    assert decide(CFG, obs(None, last_swap=NOW - 60), [held]).resume == []
    assert decide(CFG, obs(None, last_swap=NOW - 121), [held]).resume == ["new"]
    tight = MemoryState(free=GIB, swap_total=8 * GIB, swapping=False)
    assert decide(CFG, obs(None, memory=tight, last_swap=NOW - 500), [held]).resume == []


def test_owner_orders_pause_and_drain() -> None:
    run = RunState("r", NOW - 10)
    paused = decide(CFG, obs(None, control="pause"), [run])
    assert paused.suspend == {"r": "pause"} and paused.why == "paused by the owner"
    held = RunState("r", NOW - 10, suspended_at=NOW - 5, reason="pause")
    assert decide(CFG, obs(None, control="pause"), [held]).resume == []
    assert decide(CFG, obs(None), [held]).resume == ["r"]  # resumed: the idle policy decides again
    drain = decide(CFG, obs(None, control="drain"), [run])
    assert drain.suspend == {} and not drain.may_start and drain.why.startswith("draining")


def test_schedule_gates_starts_but_not_running_chunks() -> None:
    nights = PolicyConfig(when="always", schedule=Schedule.parse("mon-fri 19:00-08:00, sat-sun"))
    assert decide(nights, obs(None, when=MONDAY_NOON), []).why.startswith("outside the schedule")
    assert decide(nights, obs(None, when=MONDAY_NOON), [RunState("r", NOW - 10)]).suspend == {}
    assert decide(nights, obs(None, when=MONDAY_NOON.replace(hour=20)), []).may_start


@pytest.mark.parametrize(
    ("when", "allowed"),
    [
        (dt.datetime(2026, 11, 23, 19, 0), True),  # Monday 19:00
        (dt.datetime(2026, 11, 23, 18, 59), False),
        (dt.datetime(2026, 11, 24, 7, 59), True),  # Tuesday morning, from Monday night
        (dt.datetime(2026, 11, 24, 8, 0), False),
        (dt.datetime(2026, 11, 28, 7, 0), True),  # Saturday early: Friday's night, and the weekend
        (dt.datetime(2026, 11, 29, 15, 0), True),  # Sunday
        (dt.datetime(2026, 11, 23, 3, 0), False),  # Monday 03:00: sat-sun ended at midnight, Monday night is later
    ],
)
def test_nights_and_weekends(when: dt.datetime, allowed: bool) -> None:
    schedule = Schedule.parse("mon-fri 19:00-08:00, sat-sun")
    assert schedule.allows(when) is allowed


def test_schedule_grammar() -> None:
    assert Schedule.parse("22:00-06:00").allows(dt.datetime(2026, 11, 25, 23, 0))
    assert Schedule.parse("fri-mon").allows(dt.datetime(2026, 11, 23, 10, 0))  # wraps over the week end
    assert not Schedule.parse("fri-mon").allows(dt.datetime(2026, 11, 25, 10, 0))
    for bad in ("", "funday", "mon 25:00-26:00", "mon 9-17", "mon-fri 19:00-08:00 extra"):
        with pytest.raises(ValueError):
            Schedule.parse(bad)
