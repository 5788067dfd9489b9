"""Chunk states and the one table of allowed transitions.

A chunk's state is where its info file is in the spool (see `spool.py`):
queue/ -> QUEUED, claimed/ -> CLAIMED, jobs/<job>/done/ -> DONE, failed/ -> FAILED,
bad/ -> BAD.  Every move of an info file goes through `check_transition`.
"""

from __future__ import annotations

from enum import StrEnum

from renderd.errors import IllegalTransition


class ChunkState(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    DONE = "done"
    FAILED = "failed"
    BAD = "bad"
    CANCELLED = "cancelled"


_S = ChunkState
TRANSITIONS: dict[ChunkState, frozenset[ChunkState]] = {
    # claimed by a daemon; quarantined as untrusted; removed by `render cancel`
    _S.QUEUED: frozenset({_S.CLAIMED, _S.BAD, _S.CANCELLED, _S.QUEUED}),
    # finished; retried or re-queued after a lost lease; out of retries; cancelled; found corrupt
    # when its holder (re)reads it or another daemon recovers its stale lease
    _S.CLAIMED: frozenset({_S.DONE, _S.QUEUED, _S.FAILED, _S.CLAIMED, _S.CANCELLED, _S.BAD}),
    # `render retry` puts failed chunks back; `render remove` drops them
    _S.FAILED: frozenset({_S.QUEUED, _S.CANCELLED}),
    # `render retry --missing` re-renders frames that vanished after the chunk was done
    _S.DONE: frozenset({_S.QUEUED}),
    _S.BAD: frozenset(),
    # `render retry --missing` brings a cancelled chunk back from its record
    _S.CANCELLED: frozenset({_S.QUEUED}),
}


def check_transition(old: ChunkState, new: ChunkState, chunk: str = "") -> None:
    """Raise IllegalTransition unless `old -> new` is in the table."""
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(f"chunk {chunk or '?'} cannot go from {old.value} to {new.value}")
