"""The host record reader: every field a reader uses is checked; a forged record is one BadRecord."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.format_cases import DELETE, V1, changed, hostile_values, refuses_or_reads
from hypothesis import given
from hypothesis import strategies as st

from renderd.errors import BadRecord
from renderd.format.host import HostRecord

PATH = V1 / "hosts" / "fx1.json"
FIELDS = ["name", "hostname", "pid", "cpus", "load", "mem_total", "mem_free", "swap_total", "swap_free", "state",
          "chunks", "heartbeat", "started", "stale_after", "slots", "allow_commands", "allow_scripts",
          "blender_version", "admin_group", "owner_idle", "format"]


@given(st.binary(max_size=3000))
def test_any_bytes_are_a_host_record_or_our_error(raw: bytes) -> None:
    refuses_or_reads(HostRecord.from_bytes, raw)


@given(st.sampled_from(FIELDS), hostile_values)
def test_any_value_in_any_field_is_a_host_record_or_our_error(key: str, value: Any) -> None:
    refuses_or_reads(HostRecord.from_bytes, changed(PATH, **{key: value}))


@pytest.mark.parametrize(("over", "words"), [
    ({"load": 5}, "'load' must be a list"),
    ({"load": [1, "x", 2]}, "one to three load averages"),
    ({"heartbeat": 1e300}, "'heartbeat' must be a number"),
    ({"heartbeat": "now"}, "'heartbeat' must be a number"),
    ({"chunks": "abc"}, "'chunks' must be a list"),
    ({"chunks": [None]}, "list of objects"),
    ({"chunks": [{"chunk": []}]}, "'chunk' is not a safe name"),
    ({"chunks": [{"chunk": "a-1", "job": "a", "progress": {"x": [1] * 10}}]}, "small flat object"),
    ({"cpus": [1]}, "'cpus'"),
    ({"mem_free": "lots"}, "'mem_free'"),
    ({"pid": "me"}, "'pid'"),
    ({"slots": "two"}, "'slots'"),
    ({"allow_commands": 1}, "true or false"),
    ({"stale_after": 1e12}, "'stale_after'"),
    ({"name": "other"}, "not the one its file name says"),
    ({"name": DELETE}, "missing field 'name'"),
    ({"format": 2}, "newer renderd"),
])
def test_hostile_host_records_are_refused_with_a_reason(over: dict[str, Any], words: str) -> None:
    with pytest.raises(BadRecord, match=words) as err:
        HostRecord.from_bytes(changed(PATH, **over), PATH)
    assert err.value.path == PATH


def test_a_signed_off_host_is_not_live() -> None:
    host = HostRecord.from_bytes(changed(PATH, state="offline"))
    assert not host.is_live(at=host.heartbeat)
    assert not HostRecord.from_bytes(changed(PATH, heartbeat=None)).is_live()


def test_fields_of_a_newer_daemon_are_kept_on_write() -> None:
    host = HostRecord.from_bytes(changed(PATH, gpus=[{"name": "x"}]))
    assert HostRecord.from_bytes(host.to_bytes()).rest == {"gpus": [{"name": "x"}]}
