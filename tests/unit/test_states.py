"""The one table of chunk state transitions: everything outside it is refused, also by the spool's moves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderd.errors import IllegalTransition
from renderd.format.info import ChunkInfo
from renderd.spool import Spool
from renderd.states import TRANSITIONS, ChunkState, check_transition

states = st.sampled_from(list(ChunkState))


@given(states, states)
def test_every_pair_is_allowed_exactly_when_the_table_says_so(old: ChunkState, new: ChunkState) -> None:
    if new in TRANSITIONS[old]:
        check_transition(old, new, "j-0001")
    else:
        with pytest.raises(IllegalTransition) as err:
            check_transition(old, new, "j-0001")
        assert str(err.value) == f"chunk j-0001 cannot go from {old.value} to {new.value}"


def test_table_covers_every_state_and_names_only_states() -> None:
    assert set(TRANSITIONS) == set(ChunkState)
    assert all(targets <= set(ChunkState) for targets in TRANSITIONS.values())


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (ChunkState.QUEUED, ChunkState.DONE),  # nothing finishes without being claimed
        (ChunkState.QUEUED, ChunkState.FAILED),  # nor fails
        (ChunkState.FAILED, ChunkState.CLAIMED),  # a failed chunk is retried through the queue
        (ChunkState.DONE, ChunkState.CLAIMED),
        (ChunkState.DONE, ChunkState.FAILED),
        (ChunkState.BAD, ChunkState.QUEUED),  # quarantine is for people to look at, never automatic
    ],
)
def test_the_moves_that_must_never_happen_are_refused(old: ChunkState, new: ChunkState) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(old, new)


def test_quarantine_is_final() -> None:
    assert TRANSITIONS[ChunkState.BAD] == frozenset()


def test_spool_moves_check_the_table_before_touching_the_file(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, create=True)
    info = ChunkInfo(job="j", chunk="j-0001", index=1, kind="command", argv=["true"], start=1, end=1, step=1)
    held = spool.path("claimed", "j-0001.info@h.1.0badcafe")
    held.write_bytes(info.to_bytes())
    with pytest.raises(IllegalTransition):
        spool.fail(held, info, "no", ChunkState.QUEUED)
    with pytest.raises(IllegalTransition):
        spool.requeue(held, info, ChunkState.BAD)
    with pytest.raises(IllegalTransition):
        spool.quarantine(held, "no", ChunkState.DONE)
    assert held.read_bytes() == info.to_bytes()
    assert os.listdir(spool.path("failed")) == [] and os.listdir(spool.path("bad")) == []
    assert os.listdir(spool.path("queue")) == []
