"""Job and host control records: flags are booleans, orders one of a few words."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.format_cases import V1, changed, refuses_or_reads
from hypothesis import given
from hypothesis import strategies as st

from renderd.errors import BadRecord
from renderd.format.control import HostControl, JobControl

JOB = V1 / "jobs" / "shot-b3186473" / "control.json"
HOST = V1 / "hosts" / "fx1.control"


@given(st.binary(max_size=2000))
def test_any_bytes_are_a_control_or_our_error(raw: bytes) -> None:
    refuses_or_reads(JobControl.from_bytes, raw)
    refuses_or_reads(HostControl.from_bytes, raw)


@pytest.mark.parametrize(("over", "words"), [
    ({"paused": "yes"}, "true or false"), ({"cancelled": 1}, "true or false"), ({"format": 9}, "newer renderd"),
])
def test_hostile_job_controls_are_refused(over: dict[str, Any], words: str) -> None:
    with pytest.raises(BadRecord, match=words):
        JobControl.from_bytes(changed(JOB, **over), JOB)


def test_the_writer_is_the_file_owner_not_a_uid_inside() -> None:
    control = JobControl.from_bytes(changed(JOB, uid=0), JOB, uid=1234)
    assert control.uid == 1234 and control.paused


@pytest.mark.parametrize("order", ["shutdown", "", ["pause"], None])
def test_a_host_order_is_pause_or_drain(order: Any) -> None:
    with pytest.raises(BadRecord, match="'control' must be one of pause, drain"):
        HostControl.from_bytes(changed(HOST, control=order), HOST)


def test_controls_round_trip() -> None:
    control = JobControl(paused=True, now=True, by="ton", time=5.0)
    assert JobControl.from_bytes(control.to_bytes()) == control
    assert HostControl.from_bytes(HostControl("drain", "ton", 1.0).to_bytes()) == HostControl("drain", "ton", 1.0)
