"""The spool marker: a newer format is refused with a line that says to upgrade; garbage is one line."""

from __future__ import annotations

import pytest
from helpers.format_cases import refuses_or_reads
from hypothesis import given
from hypothesis import strategies as st

from renderd.errors import SpoolError
from renderd.format.marker import Marker


@given(st.binary(max_size=2000))
def test_any_bytes_are_a_marker_or_our_error(raw: bytes) -> None:
    refuses_or_reads(Marker.from_bytes, raw)


@pytest.mark.parametrize(("raw", "words"), [
    (b"format = 2\n", "newer renderd; this renderd reads format 1: upgrade"),
    (b"format = true\n", "no format version"),
    (b'format = "1"\n', "no format version"),
    (b"a = " + b"[" * 100_000, "too deeply nested"),
    (b"format = \xff", "unreadable spool marker"),
])
def test_bad_markers_are_one_line(raw: bytes, words: str) -> None:
    with pytest.raises(SpoolError, match=words) as err:
        Marker.from_bytes(raw, "renderd-spool.toml")
    assert "\n" not in str(err.value)
