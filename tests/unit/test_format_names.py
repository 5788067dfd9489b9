"""The name grammar: what the spool's own names look like, parsed and built both ways."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from renderd.format.names import ClaimName, QueueDir, chunk_id, job_of_chunk, valid_name

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,20}(\.[A-Za-z0-9_+-]{1,5}){0,2}", fullmatch=True)


@given(st.text(max_size=200))
def test_parsers_take_any_text(text: str) -> None:
    assert valid_name(text) in (True, False)
    ClaimName.parse(text)
    QueueDir.parse(text)


@given(names, names, st.integers(0, 2**22))
def test_claim_names_round_trip(chunk: str, host: str, pid: int) -> None:
    claim = ClaimName(chunk, host, pid, "0badcafe")
    assert ClaimName.parse(claim.filename) == claim


@given(names, st.integers(0, 999), st.integers(0, 10**13 - 1))
def test_queue_dirs_round_trip_and_sort_by_priority(job: str, priority: int, submitted: int) -> None:
    qdir = QueueDir.build(job, priority, submitted)
    assert QueueDir.parse(qdir.name) == qdir


def test_unsafe_names_are_refused() -> None:
    for name in ("", ".nfs0001", "..", "a/b", "a@b", "-y", "a..b", "x" * 161, "caf\u00e9"):
        assert not valid_name(name), name


def test_a_claim_with_a_pid_of_thousands_of_digits_is_not_ours() -> None:
    assert ClaimName.parse(f"j-0001.info@h.{'9' * 5000}.0badcafe") is None


def test_chunk_ids_are_padded_and_split_back() -> None:
    assert chunk_id("shot-1a2b3c4d", 7, 120_000) == "shot-1a2b3c4d-000007"
    assert job_of_chunk("shot-1a2b3c4d-0007") == "shot-1a2b3c4d"
