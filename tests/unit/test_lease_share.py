"""Who judges which lease (renderd/leases.py): every claim has judges, each daemon only a few holders."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from renderd.format.names import ClaimName
from renderd.leases import SPREAD, ClaimedListing, judged_holders, my_share

names = st.lists(st.from_regex(r"[a-z]{1,6}-[0-9]{1,3}", fullmatch=True), min_size=1, max_size=40, unique=True)


@settings(deadline=None)
@given(names)
def test_every_holder_is_judged_by_spread_other_holders(holders: list[str]) -> None:
    judges = {h: judged_holders(holders, h) for h in holders}
    for h in holders:
        by = [j for j in holders if h in judges[j]]
        assert len(by) == min(SPREAD, len(holders) - 1), (h, by)
    assert all(len(j) <= max(SPREAD, len(holders) - 1) for j in judges.values())


@settings(deadline=None)
@given(names, st.from_regex(r"idle[0-9]{1,3}", fullmatch=True))
def test_an_idle_daemon_judges_only_spread_holders(holders: list[str], me: str) -> None:
    assert len(judged_holders(holders, me)) == min(SPREAD, len(holders))


def test_a_farm_reads_a_linear_number_of_heartbeats() -> None:
    hosts = [f"node{i}-77_{i}" for i in range(500)]
    claims = [ClaimName.new(f"job-x-{i:04d}", h) for i, h in enumerate(hosts)]
    reads = sum(len(my_share(claims, h)) for h in hosts)
    assert reads == 500 * SPREAD + 500  # each judges SPREAD holders, and sees its own claim


def test_own_name_claims_are_always_in_the_share() -> None:
    crashed = ClaimName("job-x-0001", "me", 1, "abcd")
    others = [ClaimName.new(f"job-x-{i:04d}", f"h{i}") for i in range(2, 30)]
    assert crashed in my_share([crashed, *others], "me")


def test_claimed_listing_is_relisted_only_when_the_folder_changes(tmp_path: Path) -> None:
    now = [0.0]
    listing = ClaimedListing(tmp_path, clock=lambda: now[0])
    (tmp_path / "a").write_text("")
    old = 1_000_000_000_000_000_000
    os.utime(tmp_path, ns=(old, old))
    assert listing.names() == ["a"]
    (tmp_path / "b").write_text("")
    os.utime(tmp_path, ns=(old, old))  # a change hidden behind an unchanged mtime: not seen
    now[0] += 10
    assert listing.names() == ["a"]
    os.utime(tmp_path, ns=(old + 10**9, old + 10**9))
    assert sorted(listing.names()) == ["a", "b"]
    (tmp_path / "c").write_text("")
    os.utime(tmp_path, ns=(old + 10**9, old + 10**9))
    now[0] += 61  # and a full listing every minute whatever the mtime says
    assert sorted(listing.names()) == ["a", "b", "c"]
